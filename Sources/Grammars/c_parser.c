// Compiles the fetched c grammar (grammars/c/src, see scripts/fetch_grammars.py) into this target.
#include "Grammars.h"
#if __has_include("../../grammars/c/src/parser.c")
#pragma clang diagnostic ignored "-Weverything" // generated code, not ours
#include "../../grammars/c/src/parser.c"
const void *moecoder_grammar_c(void) { return tree_sitter_c(); }
#else
const void *moecoder_grammar_c(void) { return 0; }
#endif
