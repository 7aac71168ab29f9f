// Viable-prefix recognition driven by a tree-sitter grammar's own tables.
//
// A state holds the text seen so far as the grammar's LR parser would after it: a set of stack versions
// (GLR forks where the tables have conflicts), each with its lexing position and external-scanner state, and
// the unlexed tail whose last token may still grow. The text is a viable prefix while some version can
// still continue: every complete token so far was accepted, and the tail either is accepted as it stands or
// can still be extended into a token.
#ifndef MOECODER_VIABLE_PREFIX_H
#define MOECODER_VIABLE_PREFIX_H

#include <stdint.h>

typedef struct VPState VPState;

/// A state for the empty text; `language` is a grammar's `const TSLanguage *`. NULL on failure.
VPState *vp_create(const void *language);
/// An independent copy (shares the grammar's scanner instance: use copies from one thread).
VPState *vp_clone(const VPState *state);
void vp_destroy(VPState *state);
/// Makes `state` a copy of `from`, reusing the storage it has (no allocation once it has grown to `from`'s
/// sizes). Returns 0 (leaving `state` dead) when memory ran out.
int vp_assign(VPState *state, const VPState *from);

/// Appends bytes. Returns 1 while the text is a viable prefix, 0 once it is not (the state stays dead).
int vp_append(VPState *state, const char *bytes, uint32_t length);
/// Whether appending `bytes` would keep the text viable; `state` is not changed.
int vp_check(VPState *state, const char *bytes, uint32_t length);
/// Tests: with `on`, the state (and its clones) decides without the exact shortcuts (the reference they must
/// agree with).
void vp_set_reference(VPState *state, int on);
/// 1 while viable.
int vp_is_viable(const VPState *state);
/// Stack versions alive (more than one where the grammar is ambiguous so far).
uint32_t vp_version_count(const VPState *state);
/// Bytes appended so far.
uint64_t vp_length(const VPState *state);
/// A hash of everything that decides what may follow (stacks, positions relative to the end, scanner
/// states, tail bytes): equal keys mean equal futures, so masks can be cached by it.
uint64_t vp_key(const VPState *state);

#endif
