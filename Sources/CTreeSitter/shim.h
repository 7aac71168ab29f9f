// Debian's libtree-sitter-dev (0.20.7): the runtime API. Grammars are compiled separately (target Grammars).
#include <tree_sitter/api.h>
