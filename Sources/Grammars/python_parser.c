// Compiles the fetched python grammar (grammars/python/src, see scripts/fetch_grammars.py) into this target.
#include "Grammars.h"
#if __has_include("../../grammars/python/src/parser.c")
#pragma clang diagnostic ignored "-Weverything" // generated code, not ours
#include "../../grammars/python/src/parser.c"
const void *moecoder_grammar_python(void) { return tree_sitter_python(); }
#else
const void *moecoder_grammar_python(void) { return 0; }
#endif
