// The tree-sitter grammars compiled into moecoder. Each returns the grammar's `const TSLanguage *`,
// or NULL when its sources were not fetched before the build (run scripts/setup, then rebuild).
#ifndef MOECODER_GRAMMARS_H
#define MOECODER_GRAMMARS_H
#include "ViablePrefix.h"
const void *moecoder_grammar_python(void);
const void *moecoder_grammar_javascript(void);
const void *moecoder_grammar_go(void);
const void *moecoder_grammar_rust(void);
const void *moecoder_grammar_java(void);
const void *moecoder_grammar_c(void);
const void *moecoder_grammar_swift(void);
#endif
