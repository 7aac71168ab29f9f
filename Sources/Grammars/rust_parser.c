// Compiles the fetched rust grammar (grammars/rust/src, see scripts/fetch_grammars.py) into this target.
#include "Grammars.h"
#if __has_include("../../grammars/rust/src/parser.c")
#pragma clang diagnostic ignored "-Weverything" // generated code, not ours
#include "../../grammars/rust/src/parser.c"
const void *moecoder_grammar_rust(void) { return tree_sitter_rust(); }
#else
const void *moecoder_grammar_rust(void) { return 0; }
#endif
