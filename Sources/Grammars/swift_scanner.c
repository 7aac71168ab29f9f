// The swift grammar's external scanner (hand-written by the grammar's authors), compiled when fetched.
#if __has_include("../../grammars/swift/src/scanner.c")
#pragma clang diagnostic ignored "-Weverything" // third-party code, not ours
#include "../../grammars/swift/src/scanner.c"
#endif
