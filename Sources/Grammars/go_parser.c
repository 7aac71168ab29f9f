// Compiles the fetched go grammar (grammars/go/src, see scripts/fetch_grammars.py) into this target.
#include "Grammars.h"
#if __has_include("../../grammars/go/src/parser.c")
#pragma clang diagnostic ignored "-Weverything" // generated code, not ours
#include "../../grammars/go/src/parser.c"
const void *moecoder_grammar_go(void) { return tree_sitter_go(); }
#else
const void *moecoder_grammar_go(void) { return 0; }
#endif
