// The rust grammar's external scanner (hand-written by the grammar's authors), compiled when fetched.
#if __has_include("../../grammars/rust/src/scanner.c")
#pragma clang diagnostic ignored "-Weverything" // third-party code, not ours
#include "../../grammars/rust/src/scanner.c"
#endif
