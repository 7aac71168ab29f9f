// The python grammar's external scanner (hand-written by the grammar's authors), compiled when fetched,
// behind a small guard of ours.
//
// The upstream scanner emits a DEDENT whenever a line starts less indented than the current block and
// neither NEWLINE nor a closing bracket is valid — meant to close blocks early in broken code. But inside
// brackets after a token such as `.` (`(bar.⏎    baz)`), no closing bracket is valid either, so it closes the
// block in the middle of valid code and the file fails to parse (seen in CPython's own test_compile.py).
// The guard: outside error recovery, a DEDENT the parser cannot accept is not produced; the scanner's state
// is restored and the token is left to the grammar's own lexer.
//
// Also the state's deserialization, which tree-sitter runs before every external scan (in the parser and in
// our viable-prefix recognizer alike): the upstream one frees both of the scanner's arrays and allocates them
// again each time; ours reuses them.
#if __has_include("../../grammars/python/src/scanner.c")
#pragma clang diagnostic ignored "-Weverything" // third-party code, not ours
#define tree_sitter_python_external_scanner_scan moecoder_python_upstream_scan
#define tree_sitter_python_external_scanner_deserialize moecoder_python_upstream_deserialize
#include "../../grammars/python/src/scanner.c"
#undef tree_sitter_python_external_scanner_scan
#undef tree_sitter_python_external_scanner_deserialize

bool tree_sitter_python_external_scanner_scan(void *payload, TSLexer *lexer, const bool *valid_symbols) {
    bool error_recovery = valid_symbols[STRING_CONTENT] && valid_symbols[INDENT];
    Scanner *scanner = (Scanner *)payload;
    // A DEDENT changes nothing but the indentation stack, by popping its top: keep that level to push it back
    // (cheaper than serializing the whole state before every scan).
    uint32_t depth = scanner->indents.size;
    uint16_t top = depth > 0 ? *array_back(&scanner->indents) : 0;
    bool found = moecoder_python_upstream_scan(payload, lexer, valid_symbols);
    if (found && lexer->result_symbol == DEDENT && !valid_symbols[DEDENT] && !error_recovery
        && depth > 0 && scanner->indents.size + 1 == depth) {
        array_push(&scanner->indents, top);
        return false;
    }
    return found;
}

// The serialized state (see the upstream `serialize`): whether inside an f-string, the delimiter count and
// delimiters (one byte each), then the indentation levels after the first (one byte each). Empty: the
// initial state, where the f-string flag is left as it is (as upstream does).
void tree_sitter_python_external_scanner_deserialize(void *payload, const char *buffer, unsigned length) {
    Scanner *scanner = (Scanner *)payload;
    scanner->delimiters.size = 0;
    scanner->indents.size = 0;
    array_push(&scanner->indents, 0);
    if (length == 0) return;
    size_t size = 0;
    scanner->inside_f_string = (bool)buffer[size++];
    size_t delimiter_count = (uint8_t)buffer[size++];
    if (delimiter_count > 0) {
        array_reserve(&scanner->delimiters, delimiter_count);
        scanner->delimiters.size = delimiter_count;
        memcpy(scanner->delimiters.contents, &buffer[size], delimiter_count);
        size += delimiter_count;
    }
    array_reserve(&scanner->indents, 1 + (length - size));
    for (; size < length; size++) scanner->indents.contents[scanner->indents.size++] = (unsigned char)buffer[size];
}
#endif
