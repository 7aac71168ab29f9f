// Compiles the fetched java grammar (grammars/java/src, see scripts/fetch_grammars.py) into this target.
#include "Grammars.h"
#if __has_include("../../grammars/java/src/parser.c")
#pragma clang diagnostic ignored "-Weverything" // generated code, not ours
#include "../../grammars/java/src/parser.c"
const void *moecoder_grammar_java(void) { return tree_sitter_java(); }
#else
const void *moecoder_grammar_java(void) { return 0; }
#endif
