// Compiles the fetched javascript grammar (grammars/javascript/src, see scripts/fetch_grammars.py) into this target.
#include "Grammars.h"
#if __has_include("../../grammars/javascript/src/parser.c")
#pragma clang diagnostic ignored "-Weverything" // generated code, not ours
#include "../../grammars/javascript/src/parser.c"
const void *moecoder_grammar_javascript(void) { return tree_sitter_javascript(); }
#else
const void *moecoder_grammar_javascript(void) { return 0; }
#endif
