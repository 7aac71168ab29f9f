// Compiles the fetched swift grammar (grammars/swift/src, see scripts/fetch_grammars.py) into this target.
#include "Grammars.h"
#if __has_include("../../grammars/swift/src/parser.c")
#pragma clang diagnostic ignored "-Weverything" // generated code, not ours
#include "../../grammars/swift/src/parser.c"
const void *moecoder_grammar_swift(void) { return tree_sitter_swift(); }
#else
const void *moecoder_grammar_swift(void) { return 0; }
#endif
