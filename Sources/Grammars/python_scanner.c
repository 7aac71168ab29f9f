// The python grammar's external scanner (hand-written by the grammar's authors), compiled when fetched,
// behind a small guard of ours.
//
// The upstream scanner emits a DEDENT whenever a line starts less indented than the current block and
// neither NEWLINE nor a closing bracket is valid — meant to close blocks early in broken code. But inside
// brackets after a token such as `.` (`(bar.⏎    baz)`), no closing bracket is valid either, so it closes the
// block in the middle of valid code and the file fails to parse (seen in CPython's own test_compile.py).
// The guard: outside error recovery, a DEDENT the parser cannot accept is not produced; the scanner's state
// is restored and the token is left to the grammar's own lexer.
#if __has_include("../../grammars/python/src/scanner.c")
#pragma clang diagnostic ignored "-Weverything" // third-party code, not ours
#define tree_sitter_python_external_scanner_scan moecoder_python_upstream_scan
#include "../../grammars/python/src/scanner.c"
#undef tree_sitter_python_external_scanner_scan

bool tree_sitter_python_external_scanner_scan(void *payload, TSLexer *lexer, const bool *valid_symbols) {
    bool error_recovery = valid_symbols[STRING_CONTENT] && valid_symbols[INDENT];
    char saved[TREE_SITTER_SERIALIZATION_BUFFER_SIZE];
    unsigned length = tree_sitter_python_external_scanner_serialize(payload, saved);
    bool found = moecoder_python_upstream_scan(payload, lexer, valid_symbols);
    if (found && lexer->result_symbol == DEDENT && !valid_symbols[DEDENT] && !error_recovery) {
        tree_sitter_python_external_scanner_deserialize(payload, saved, length);
        return false;
    }
    return found;
}
#endif
