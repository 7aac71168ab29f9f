// Viable-prefix recognition from a tree-sitter grammar's tables (see include/ViablePrefix.h).
//
// This replays what tree-sitter's parser does on error-free input — lexing with the parse state's lex mode
// (external scanner first, then the lex function, then the keyword lexer for the word token), then the
// parse actions (shift, reduce with goto, GLR forks on conflicts) — but stops where the input ends: a
// token whose lexing looked at the end of the text may still change, so it and everything after it stay
// unlexed (the tail) until more text arrives. Error recovery is never entered: a version that meets a token
// it has no action for is dropped, and the text is dead when no version is left.
#include "ViablePrefix.h"

#if __has_include("../../grammars/.headers/parser.h")
#include "../../grammars/.headers/parser.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VERSIONS 32
#define MAX_DEPTH 100000
// Scanner states up to this many bytes live in the version itself (Python's is 2 bytes plus one for each open
// string delimiter and one for each indentation level: a handful), longer ones on the heap.
#define INLINE_SCANNER 28
// Bytes past the text's end that the text buffer always has room for: the probes of `extends` and
// `grows_into_acceptable` are written there, after the text, rather than into a copy of it.
#define PROBE_ROOM 8
// Stacks of dropped versions kept for reuse (per grammar object, see Grammar.spare).
#define SPARE_STACKS 64

// The token lexed at a version's tail (see run_versions): what tail_is_live needs of the lexer's result.
typedef struct {
  uint32_t start, end;      // relative to the text
  TSSymbol symbol;
  bool token;               // a token was lexed (else LEX_NONE)
  bool at_end, scanner_at_end;
} Tail;

typedef struct {
  TSStateId *stack;
  uint32_t depth, capacity;
  uint64_t position;        // absolute offset where this version lexes next
  uint32_t scanner_length;  // serialized external-scanner state after the last external token:
  union {                   // in `bytes` when it fits (scanner_length <= INLINE_SCANNER), else in `heap`
    char bytes[INLINE_SCANNER];
    char *heap;
  } scanner;
  // Set when run_versions parks the version: its tail as lexed there, which tail_is_live judges without
  // lexing it again. Not part of the version's identity: equal versions lex the same text alike.
  Tail tail;
} Version;

typedef struct {
  const TSLanguage *language;
  void *scanner;            // one instance per grammar object; deserialized before each use
  uint32_t references;
  // Stacks of dropped versions, taken again by new ones: every check copies versions (each of the state's,
  // one for each GLR fork and each `acceptable` probe) and drops them, which cost a malloc and a free each.
  // Shared by the state and its clones, which use the grammar object from one thread (its scanner instance
  // already requires that).
  TSStateId *spare[SPARE_STACKS];
  uint32_t spare_capacity[SPARE_STACKS];
  uint32_t spare_count;
  // could_become's candidates, built on its first use: the literal tokens (keywords, operators) grouped by
  // their first byte, in symbol order, literals[literal_start[b] ..< literal_start[b + 1]] for byte b, with
  // their lengths.
  TSSymbol *literals;
  uint32_t *literal_lengths;
  uint32_t literal_start[257];
  bool indexed;
} Grammar;

struct VPState {
  Grammar *grammar;
  char *text;               // bytes from `base` on; capacity >= text_length + PROBE_ROOM once text was appended
  uint32_t text_length, text_capacity;
  uint64_t base;
  uint32_t base_column;     // column (in characters) at `base`
  uint64_t total;           // bytes appended so far
  Version *versions;
  uint32_t count, capacity;
  bool dead;
  bool reference;           // tests: without the exact shortcuts (vp_set_reference)
};

// MARK: - Parse tables

static uint16_t table_lookup(const TSLanguage *l, TSStateId state, TSSymbol symbol) {
  if (state >= l->large_state_count) {
    uint32_t index = l->small_parse_table_map[state - l->large_state_count];
    const uint16_t *data = &l->small_parse_table[index];
    uint16_t group_count = *(data++);
    for (unsigned i = 0; i < group_count; i++) {
      uint16_t section_value = *(data++);
      uint16_t symbol_count = *(data++);
      for (unsigned j = 0; j < symbol_count; j++) {
        if (*(data++) == symbol) return section_value;
      }
    }
    return 0;
  }
  return l->parse_table[state * l->symbol_count + symbol];
}

static const TSParseAction *table_actions(const TSLanguage *l, TSStateId state, TSSymbol symbol, uint32_t *count) {
  if (symbol == (TSSymbol)-1 || symbol == (TSSymbol)-2) {  // ts_builtin_sym_error, error_repeat
    *count = 0;
    return NULL;
  }
  const TSParseActionEntry *entry = &l->parse_actions[table_lookup(l, state, symbol)];
  *count = entry->entry.count;
  return (const TSParseAction *)(entry + 1);
}

static TSStateId goto_state(const TSLanguage *l, TSStateId state, TSSymbol symbol) {
  if (symbol < l->token_count) {
    uint32_t count;
    const TSParseAction *actions = table_actions(l, state, symbol, &count);
    if (count > 0 && actions[count - 1].type == TSParseActionTypeShift) {
      return actions[count - 1].shift.extra ? state : actions[count - 1].shift.state;
    }
    return 0;
  }
  return table_lookup(l, state, symbol);
}

// MARK: - Versions

static const char *version_scanner(const Version *v) {
  return v->scanner_length > INLINE_SCANNER ? v->scanner.heap : v->scanner.bytes;
}

// Sets the version's scanner state to a copy of `bytes` (which must not be the version's own).
static bool version_set_scanner(Version *v, const char *bytes, uint32_t length) {
  char *heap = NULL;
  if (length > INLINE_SCANNER) {
    heap = malloc(length);
    if (!heap) return false;
    memcpy(heap, bytes, length);
  }
  if (v->scanner_length > INLINE_SCANNER) free(v->scanner.heap);
  if (heap) v->scanner.heap = heap;
  else if (length) memcpy(v->scanner.bytes, bytes, length);
  v->scanner_length = length;
  return true;
}

// An empty version (room for at least 32 stack entries), or a copy of `from` (room for at least 16 entries more
// than its depth), its stack the grammar's last spare when there is one (a new one where that is too small).
static bool version_init(Grammar *g, Version *v, const Version *from) {
  memset(v, 0, sizeof *v);
  uint32_t needed = from ? (from->depth > 16 ? from->depth + 16 : 32) : 32;
  TSStateId *stack = NULL;
  uint32_t capacity = 0;
  if (g->spare_count > 0) {
    g->spare_count--;
    stack = g->spare[g->spare_count];
    capacity = g->spare_capacity[g->spare_count];
    if (capacity < needed) {
      free(stack);
      stack = NULL;
    }
  }
  if (!stack) {
    stack = malloc(needed * sizeof(TSStateId));
    if (!stack) return false;
    capacity = needed;
  }
  v->stack = stack;
  v->capacity = capacity;
  if (from) {
    memcpy(v->stack, from->stack, from->depth * sizeof(TSStateId));
    v->depth = from->depth;
    v->position = from->position;
    if (from->scanner_length && !version_set_scanner(v, version_scanner(from), from->scanner_length)) {
      free(v->stack);
      v->stack = NULL;
      return false;
    }
  }
  return true;
}

// Drops the version's storage: its stack goes to the grammar's spares (freed when they are full).
static void version_free(Grammar *g, Version *v) {
  if (v->stack) {
    if (g->spare_count < SPARE_STACKS) {
      g->spare[g->spare_count] = v->stack;
      g->spare_capacity[g->spare_count] = v->capacity;
      g->spare_count++;
    } else {
      free(v->stack);
    }
  }
  if (v->scanner_length > INLINE_SCANNER) free(v->scanner.heap);
  v->stack = NULL;
  v->scanner_length = 0;
}

static bool version_push(Version *v, TSStateId state) {
  if (v->depth == v->capacity) {
    if (v->capacity >= MAX_DEPTH) return false;
    TSStateId *grown = realloc(v->stack, 2 * v->capacity * sizeof(TSStateId));
    if (!grown) return false;
    v->stack = grown;
    v->capacity *= 2;
  }
  v->stack[v->depth++] = state;
  return true;
}

static bool versions_equal(const Version *a, const Version *b) {
  return a->depth == b->depth && a->position == b->position && a->scanner_length == b->scanner_length &&
         memcmp(a->stack, b->stack, a->depth * sizeof(TSStateId)) == 0 &&
         (a->scanner_length == 0 || memcmp(version_scanner(a), version_scanner(b), a->scanner_length) == 0);
}

typedef struct {
  Version *items;
  uint32_t count, capacity;
  Version *local;           // the caller's storage `items` starts in (never freed), or NULL
} VersionList;

// A list whose first `capacity` items live in the caller's `storage` (most lists hold one or two versions: a
// malloc and a free for each was a tenth of the recognizer's cost); it moves to the heap when it outgrows it.
#define LOCAL_LIST(storage) ((VersionList){(storage), 0, (uint32_t)(sizeof(storage) / sizeof(Version)), (storage)})

// Takes ownership of `v`; drops it when an equal version is already there or the list is full.
static void list_add(Grammar *g, VersionList *list, Version *v) {
  for (uint32_t i = 0; i < list->count; i++) {
    if (versions_equal(&list->items[i], v)) { version_free(g, v); return; }
  }
  if (list->count >= MAX_VERSIONS) { version_free(g, v); return; }
  if (list->count == list->capacity) {
    uint32_t capacity = list->capacity ? 2 * list->capacity : 4;
    Version *grown;
    if (list->items && list->items == list->local) {
      grown = malloc(capacity * sizeof(Version));
      if (grown) memcpy(grown, list->items, list->count * sizeof(Version));
    } else {
      grown = realloc(list->items, capacity * sizeof(Version));
    }
    if (!grown) { version_free(g, v); return; }
    list->items = grown;
    list->capacity = capacity;
  }
  list->items[list->count++] = *v;
}

// Frees the list's storage (not its versions) unless it is the caller's.
static void list_release(VersionList *list) {
  if (list->items != list->local) free(list->items);
  list->items = NULL;
  list->count = list->capacity = 0;
}

static void list_free(Grammar *g, VersionList *list) {
  for (uint32_t i = 0; i < list->count; i++) version_free(g, &list->items[i]);
  list_release(list);
}

// `*to` becomes `*from` itself when `take` (leaving `*from` empty: freeing it does nothing), else a copy of it.
static bool take_or_copy(Grammar *g, Version *to, Version *from, bool take) {
  if (!take) return version_init(g, to, from);
  *to = *from;
  from->stack = NULL;
  from->scanner_length = 0;
  return true;
}

// Feeds one token to a version (owned), following reductions and GLR forks; survivors go to `out`.
static void feed_token(Grammar *g, Version *v, TSSymbol symbol, bool is_keyword, VersionList *out) {
  // A work list of versions that still have to consume this token (after reductions).
  Version pending_storage[4];
  VersionList pending = LOCAL_LIST(pending_storage);
  const TSLanguage *l = g->language;
  list_add(g, &pending, v);
  uint32_t budget = 10000;  // reductions per token; real grammars need a handful
  while (pending.count > 0 && budget-- > 0) {
    Version current = pending.items[--pending.count];
    TSSymbol sym = symbol;
    uint32_t count;
    const TSParseAction *actions = table_actions(l, current.stack[current.depth - 1], sym, &count);
    if (count == 0 && is_keyword && l->keyword_capture_token && sym != l->keyword_capture_token) {
      // A keyword the state cannot take is read as the word token (identifier), as tree-sitter does.
      sym = l->keyword_capture_token;
      actions = table_actions(l, current.stack[current.depth - 1], sym, &count);
    }
    for (uint32_t i = 0; i < count; i++) {
      TSParseAction action = actions[i];
      // The last action takes `current` itself rather than a copy (most states have one action: a copy of the
      // stack for each shift and reduction was most of this function's cost). `current` is then empty, and
      // freeing it below does nothing.
      bool last = i + 1 == count;
      if (action.type == TSParseActionTypeShift) {
        if (action.shift.repetition) continue;
        Version shifted;
        if (!take_or_copy(g, &shifted, &current, last)) continue;
        if (!action.shift.extra && !version_push(&shifted, action.shift.state)) { version_free(g, &shifted); continue; }
        list_add(g, out, &shifted);
      } else if (action.type == TSParseActionTypeReduce) {
        uint32_t children = action.reduce.child_count;
        if (children >= current.depth) continue;
        Version reduced;
        if (!take_or_copy(g, &reduced, &current, last)) continue;
        reduced.depth -= children;
        TSStateId next = goto_state(l, reduced.stack[reduced.depth - 1], action.reduce.symbol);
        if (next == 0 || !version_push(&reduced, next)) { version_free(g, &reduced); continue; }
        list_add(g, &pending, &reduced);
      }
      // Accept needs the end of input, which is never fed; Recover is error recovery, never entered.
    }
    version_free(g, &current);
  }
  list_free(g, &pending);  // anything left when the budget ran out is dropped
}

// MARK: - Lexing

typedef struct {
  TSLexer data;
  const char *text;         // the state's text (from `base`), possibly with probe bytes after it
  uint32_t length;
  uint32_t current, token_start, token_end;
  bool end_marked;
  uint32_t lookahead_size;
  uint32_t reach;           // furthest position the lexer looked at
  uint32_t base_column;
} Lexer;

static void lexer_decode(Lexer *x) {
  if (x->current >= x->length) {
    x->data.lookahead = 0;
    x->lookahead_size = 0;
    return;
  }
  const unsigned char *s = (const unsigned char *)x->text + x->current;
  uint32_t left = x->length - x->current;
  unsigned char c = s[0];
  int32_t code = -1;
  uint32_t size = 1;
  if (c < 0x80) {
    code = c;
  } else if ((c & 0xE0) == 0xC0 && left >= 2 && (s[1] & 0xC0) == 0x80) {
    code = ((c & 0x1F) << 6) | (s[1] & 0x3F);
    size = 2;
  } else if ((c & 0xF0) == 0xE0 && left >= 3 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) {
    code = ((c & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    size = 3;
  } else if ((c & 0xF8) == 0xF0 && left >= 4 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 &&
             (s[3] & 0xC0) == 0x80) {
    code = ((c & 0x07) << 18) | ((s[1] & 0x3F) << 12) | ((s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    size = 4;
  }
  x->data.lookahead = code;
  x->lookahead_size = size;
}

static void lexer_advance(TSLexer *self, bool skip) {
  Lexer *x = (Lexer *)self;
  if (x->current < x->length) {
    x->current += x->lookahead_size;
    if (skip) x->token_start = x->current;
  }
  if (x->current > x->reach) x->reach = x->current;
  lexer_decode(x);
}

static void lexer_mark_end(TSLexer *self) {
  Lexer *x = (Lexer *)self;
  x->token_end = x->current;
  x->end_marked = true;
}

static uint32_t lexer_get_column(TSLexer *self) {
  Lexer *x = (Lexer *)self;
  uint32_t column = 0;
  uint32_t i = x->current;
  while (i > 0 && x->text[i - 1] != '\n') {
    i--;
    if (((unsigned char)x->text[i] & 0xC0) != 0x80) column++;
  }
  return i == 0 ? x->base_column + column : column;
}

static bool lexer_at_range_start(const TSLexer *self) {
  (void)self;
  return false;
}

static bool lexer_eof(const TSLexer *self) {
  const Lexer *x = (const Lexer *)self;
  return x->current >= x->length;
}

static void lexer_log(const TSLexer *self, const char *format, ...) {
  (void)self;
  (void)format;
}

static void lexer_start(Lexer *x, uint32_t position) {
  x->current = position;
  x->token_start = position;
  x->token_end = position;
  x->end_marked = false;
  x->data.result_symbol = 0;
  if (position > x->reach) x->reach = position;
  lexer_decode(x);
}

static void lexer_setup(Lexer *x, const VPState *s, const char *text, uint32_t length) {
  memset(x, 0, sizeof *x);
  x->data.advance = lexer_advance;
  x->data.mark_end = lexer_mark_end;
  x->data.get_column = lexer_get_column;
  x->data.is_at_included_range_start = lexer_at_range_start;
  x->data.eof = lexer_eof;
  x->data.log = lexer_log;
  x->text = text;
  x->length = length;
  x->base_column = s->base_column;
}

typedef enum { LEX_TOKEN, LEX_NONE } LexOutcome;

typedef struct {
  LexOutcome outcome;
  TSSymbol symbol;
  bool is_keyword, external;
  uint32_t start, end;      // relative to the text (start is after skipped white space)
  bool at_end;              // the lexer looked at the end of the text: the result may change with more text
  bool scanner_at_end;      // the external scanner declined only after looking at the end of the text
  char scanner[TREE_SITTER_SERIALIZATION_BUFFER_SIZE];
  uint32_t scanner_length;
} LexResult;

// Lexes one token for version `v` (positions relative to the state's text), as ts_parser__lex does.
static void lex(const VPState *s, const Version *v, const char *text, uint32_t length, LexResult *r) {
  const TSLanguage *l = s->grammar->language;
  TSStateId state = v->stack[v->depth - 1];
  TSLexMode mode = l->lex_modes[state];
  Lexer x;
  lexer_setup(&x, s, text, length);
  uint32_t position = (uint32_t)(v->position - s->base);
  r->outcome = LEX_NONE;
  r->is_keyword = r->external = r->scanner_at_end = false;
  r->scanner_length = 0;
  r->start = position;
  if (mode.lex_state == (uint16_t)-1) {
    r->at_end = false;
    return;
  }
  void *scanner = s->grammar->scanner;  // may be NULL: stateless scanners create no instance
  if (mode.external_lex_state != 0 && l->external_scanner.scan) {
    lexer_start(&x, position);
    l->external_scanner.deserialize(scanner, version_scanner(v), v->scanner_length);
    const bool *valid = &l->external_scanner.states[l->external_token_count * mode.external_lex_state];
    if (l->external_scanner.scan(scanner, &x.data, valid)) {
      if (!x.end_marked) x.token_end = x.current;
      r->outcome = LEX_TOKEN;
      r->external = true;
      r->symbol = l->external_scanner.symbol_map[x.data.result_symbol];
      r->start = x.token_start;
      r->end = x.token_end;
      r->scanner_length = l->external_scanner.serialize(scanner, r->scanner);
      r->at_end = x.reach >= length;
      return;
    }
    r->scanner_at_end = x.reach >= length;
  }
  lexer_start(&x, position);
  bool found = l->lex_fn(&x.data, mode.lex_state);
  if (!x.end_marked) x.token_end = x.current;
  r->start = x.token_start;
  if (found) {
    r->outcome = LEX_TOKEN;
    r->symbol = x.data.result_symbol;
    r->start = x.token_start;
    r->end = x.token_end;
    if (r->symbol == l->keyword_capture_token && r->symbol != 0 && l->keyword_lex_fn) {
      uint32_t end = x.token_end;
      lexer_start(&x, x.token_start);
      bool keyword = l->keyword_lex_fn(&x.data, 0);
      if (!x.end_marked) x.token_end = x.current;
      if (keyword && x.token_end == end && table_lookup(l, state, x.data.result_symbol) != 0) {
        r->symbol = x.data.result_symbol;
        r->is_keyword = true;
      }
    }
  }
  r->at_end = x.reach >= length;
}

// MARK: - State

static Grammar *grammar_retain(Grammar *g) {
  g->references++;
  return g;
}

static void grammar_release(Grammar *g) {
  if (--g->references == 0) {
    if (g->scanner) g->language->external_scanner.destroy(g->scanner);
    for (uint32_t i = 0; i < g->spare_count; i++) free(g->spare[i]);
    free(g->literals);
    free(g->literal_lengths);
    free(g);
  }
}

// Makes room for `length` bytes of text and PROBE_ROOM after them.
static bool reserve_text(VPState *s, uint32_t length) {
  if (length > UINT32_MAX - PROBE_ROOM) return false;
  uint32_t needed = length + PROBE_ROOM;
  if (needed <= s->text_capacity) return true;
  uint32_t capacity = s->text_capacity ? s->text_capacity : 64;
  while (capacity < needed) capacity = capacity > UINT32_MAX / 2 ? needed : 2 * capacity;
  char *grown = realloc(s->text, capacity);
  if (!grown) return false;
  s->text = grown;
  s->text_capacity = capacity;
  return true;
}

// Makes room for `count` versions in the state's array.
static bool reserve_versions(VPState *s, uint32_t count) {
  if (count <= s->capacity) return true;
  Version *grown = realloc(s->versions, count * sizeof(Version));
  if (!grown) return false;
  s->versions = grown;
  s->capacity = count;
  return true;
}

static void drop_versions(VPState *s) {
  for (uint32_t i = 0; i < s->count; i++) version_free(s->grammar, &s->versions[i]);
  s->count = 0;
}

VPState *vp_create(const void *language) {
  const TSLanguage *l = language;
  if (!l) return NULL;
  VPState *s = calloc(1, sizeof *s);
  Grammar *g = calloc(1, sizeof *g);
  if (!s || !g) { free(s); free(g); return NULL; }
  g->language = l;
  g->references = 1;
  if (l->external_scanner.create) g->scanner = l->external_scanner.create();
  s->grammar = g;
  if (!reserve_versions(s, 1)) { vp_destroy(s); return NULL; }
  Version *v = &s->versions[0];
  if (!version_init(g, v, NULL)) { vp_destroy(s); return NULL; }
  s->count = 1;
  if (!version_push(v, 1)) { vp_destroy(s); return NULL; }  // state 1 starts
  if (l->external_scanner.serialize) {
    char buffer[TREE_SITTER_SERIALIZATION_BUFFER_SIZE];
    l->external_scanner.deserialize(g->scanner, NULL, 0);
    unsigned n = l->external_scanner.serialize(g->scanner, buffer);
    if (!version_set_scanner(v, buffer, n)) { vp_destroy(s); return NULL; }
  }
  return s;
}

// Makes `s` a copy of `from`, reusing the storage `s` has; false (with `s` dead) when memory ran out.
static bool copy_state(VPState *s, const VPState *from) {
  drop_versions(s);
  if (s->grammar != from->grammar) {
    Grammar *old = s->grammar;
    s->grammar = grammar_retain(from->grammar);
    if (old) grammar_release(old);
  }
  s->base = from->base;
  s->base_column = from->base_column;
  s->total = from->total;
  s->dead = from->dead;
  s->reference = from->reference;
  s->text_length = 0;
  if (from->text_length) {
    if (!reserve_text(s, from->text_length)) { s->dead = true; return false; }
    memcpy(s->text, from->text, from->text_length);
    s->text_length = from->text_length;
  }
  if (!reserve_versions(s, from->count)) { s->dead = true; return false; }
  for (uint32_t i = 0; i < from->count; i++) {
    if (!version_init(s->grammar, &s->versions[i], &from->versions[i])) { s->dead = true; return false; }
    s->count++;
  }
  return true;
}

VPState *vp_clone(const VPState *from) {
  VPState *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  if (!copy_state(s, from)) { vp_destroy(s); return NULL; }
  return s;
}

int vp_assign(VPState *state, const VPState *from) {
  if (state == from) return 1;
  return copy_state(state, from) ? 1 : 0;
}

void vp_destroy(VPState *s) {
  if (!s) return;
  if (s->grammar) {
    drop_versions(s);
    grammar_release(s->grammar);
  }
  free(s->versions);
  free(s->text);
  free(s);
}

// Whether version `v` can take `symbol` next (following reductions). With `allow_extra` false, a token
// that would only be skipped as an extra (a comment) does not count.
static bool acceptable(Grammar *g, const Version *v, TSSymbol symbol, bool allow_extra, bool shortcut) {
  const TSLanguage *l = g->language;
  uint32_t count;
  const TSParseAction *actions = table_actions(l, v->stack[v->depth - 1], symbol, &count);
  if (count == 0) return false;
  if (!allow_extra) {
    bool only_extra = true;
    for (uint32_t i = 0; i < count; i++) {
      if (!(actions[i].type == TSParseActionTypeShift && actions[i].shift.extra)) only_extra = false;
    }
    if (only_extra) return false;
  }
  // A shift (not a repetition) always survives feed_token (the copy it would shift has room on its stack), so
  // the version takes the symbol without following the other actions.
  for (uint32_t i = 0; shortcut && i < count; i++) {
    if (actions[i].type == TSParseActionTypeShift && !actions[i].shift.repetition) return true;
  }
  Version copy;
  if (!version_init(g, &copy, v)) return false;
  Version out_storage[4];
  VersionList out = LOCAL_LIST(out_storage);
  feed_token(g, &copy, symbol, false, &out);
  bool accepted = out.count > 0;
  list_free(g, &out);
  return accepted;
}

// Groups the grammar's literal tokens by first byte for could_become (once per grammar object); false when
// memory ran out (could_become then walks every token).
static bool index_literals(Grammar *g) {
  if (g->indexed) return g->literals != NULL;
  g->indexed = true;
  const TSLanguage *l = g->language;
  uint32_t counts[256] = {0}, total = 0;
  for (TSSymbol symbol = 1; symbol < l->token_count; symbol++) {
    TSSymbolMetadata meta = l->symbol_metadata[symbol];
    if (!meta.named && meta.visible) { counts[(unsigned char)l->symbol_names[symbol][0]]++; total++; }
  }
  g->literals = malloc((total ? total : 1) * sizeof(TSSymbol));
  g->literal_lengths = malloc((total ? total : 1) * sizeof(uint32_t));
  if (!g->literals || !g->literal_lengths) {
    free(g->literals);
    free(g->literal_lengths);
    g->literals = NULL;
    g->literal_lengths = NULL;
    return false;
  }
  g->literal_start[0] = 0;
  for (uint32_t b = 0; b < 256; b++) g->literal_start[b + 1] = g->literal_start[b] + counts[b];
  uint32_t next[256];
  memcpy(next, g->literal_start, sizeof next);
  for (TSSymbol symbol = 1; symbol < l->token_count; symbol++) {
    TSSymbolMetadata meta = l->symbol_metadata[symbol];
    if (!meta.named && meta.visible) {
      const char *literal = l->symbol_names[symbol];
      uint32_t slot = next[(unsigned char)literal[0]]++;
      g->literals[slot] = symbol;
      g->literal_lengths[slot] = (uint32_t)strlen(literal);
    }
  }
  return true;
}

// Whether the partial lexeme can still grow into a token the version takes: a literal token (keyword or
// operator) that starts with it, or — for a lexeme the lexer is still in the middle of — any pattern token.
static bool could_become(Grammar *g, const Version *v, const char *lexeme, uint32_t length,
                         bool any_pattern, TSSymbol except, bool shortcut) {
  const TSLanguage *l = g->language;
  if (length > 0 && !any_pattern && index_literals(g)) {
    // Only the literals with the lexeme's first byte can start with it (walking all of the grammar's tokens
    // for each lexeme was ~2 K instructions a check).
    unsigned char first = (unsigned char)lexeme[0];
    for (uint32_t i = g->literal_start[first]; i < g->literal_start[first + 1]; i++) {
      TSSymbol symbol = g->literals[i];
      if (symbol == except) continue;
      if (g->literal_lengths[i] > length && strncmp(l->symbol_names[symbol], lexeme, length) == 0 &&
          acceptable(g, v, symbol, true, shortcut)) {
        return true;
      }
    }
    return false;
  }
  for (TSSymbol symbol = 1; symbol < l->token_count; symbol++) {
    if (symbol == except) continue;
    TSSymbolMetadata meta = l->symbol_metadata[symbol];
    if (!meta.named && meta.visible) {
      const char *literal = l->symbol_names[symbol];
      if (length > 0 && literal[0] != lexeme[0]) continue;
      if (strlen(literal) > length && strncmp(literal, lexeme, length) == 0 && acceptable(g, v, symbol, true, shortcut)) {
        return true;
      }
    } else if (any_pattern && meta.named && acceptable(g, v, symbol, false, shortcut)) {
      return true;
    }
  }
  return false;
}

// Feeds the token `r` to version `v` (owned) and queues the survivors, positioned after the token.
static void take_token(const VPState *s, Version *v, const LexResult *r, VersionList *work) {
  Version fed_storage[4];
  VersionList fed = LOCAL_LIST(fed_storage);
  feed_token(s->grammar, v, r->symbol, r->is_keyword, &fed);
  for (uint32_t i = 0; i < fed.count; i++) {
    Version *next = &fed.items[i];
    next->position = s->base + r->end;
    if (r->external) version_set_scanner(next, r->scanner, r->scanner_length);
    list_add(s->grammar, work, next);
  }
  list_release(&fed);
}

// Lexes and parses the versions in `work` (consumed) as far as the text allows; each version stops (is
// parked) at the first token whose lexing looked at the end of the text, since that token may still change.
static void run_versions(const VPState *s, VersionList *work, VersionList *parked) {
  LexResult r;
  // Zero-width tokens (indents, dedents) make progress through the scanner's state; a bound guards
  // against a grammar that would accept them forever.
  uint64_t budget = 1000 + 64ULL * ((uint64_t)s->text_length + 1);
  while (work->count > 0) {
    if (budget-- == 0) break;
    Version v = work->items[--work->count];
    lex(s, &v, s->text, s->text_length, &r);
    if (r.at_end) {
      v.tail = (Tail){r.start, r.end, r.symbol, r.outcome == LEX_TOKEN, r.at_end, r.scanner_at_end};
      list_add(s->grammar, parked, &v);
      continue;
    }
    if (r.outcome == LEX_NONE) { version_free(s->grammar, &v); continue; }
    take_token(s, &v, &r, work);
  }
  list_free(s->grammar, work);
}

// Whether some short continuation carries version `v` past the end of the text with every token accepted:
// the deciding test when the tail alone cannot tell (a token the lexer is still inside, such as `"abc` or
// `\u12`, or one it tried to extend, such as `in\u9a2`). Each candidate is nothing, one character, or two
// characters (the first from the alphabet's first few) from a small alphabet, followed by a space or a
// newline (which ends most tokens); the real lexer and tables judge.
// Candidates run shortest first: nearly every search that succeeds does so with one character or none
// (measured on sampled completions: `a` before a line break most often, then a backslash, a quote, a
// digit), and each candidate re-lexes the tail, so a success found after the two-character ones cost
// ~250 runs of the recognizer (35 us) at the start of most indented lines.
static bool extends(const VPState *s, const Version *v) {
  static const char alphabet[] = "a0\"'`)]};/*=x_.+-><:,\\#{([9feu";
  // Most tokens end at white space; Python's scanner also looks past line ends for the next line's
  // indentation, so one ender starts a new line with a word.
  static const char *const enders[] = {"\nx", " ", "\n"};
  enum { alphabet_size = sizeof alphabet - 1, pair_firsts = 8 };
  _Static_assert(2 + 2 <= PROBE_ROOM, "a candidate (two characters and the longest ender) fits the text's room");
  // The candidates are written after the text, in the room its buffer keeps there (PROBE_ROOM), and read
  // through a view of the state with a longer text (read-only use).
  uint32_t length = s->text_length;
  char *buffer = s->text;
  VPState view = *s;
  bool found = false;
  for (uint32_t e = 0; e < sizeof enders / sizeof *enders && !found; e++) {
    uint32_t ender_length = (uint32_t)strlen(enders[e]);
    // Candidate c: 0 is `a` (a word first: at the end of a line or of its indentation, a statement of one
    // word is what carries the text on, and this search runs for nearly every line break a model writes),
    // 1 is nothing, 2..alphabet_size the other single characters, then the pairs.
    uint32_t singles = alphabet_size + 1, total = singles + pair_firsts * alphabet_size;
    for (uint32_t c = 0; c < total && !found; c++) {
      uint32_t n = 0;
      if (c == 0) {
        buffer[length + n++] = alphabet[0];
      } else if (c < singles) {
        if (c >= 2) buffer[length + n++] = alphabet[c - 1];
      } else {
        uint32_t pair = c - singles;
        buffer[length + n++] = alphabet[pair / alphabet_size];
        buffer[length + n++] = alphabet[pair % alphabet_size];
      }
      memcpy(buffer + length + n, enders[e], ender_length);
      view.text_length = length + n + ender_length;
      Version copy;
      if (!version_init(s->grammar, &copy, v)) continue;
      Version work_storage[4], parked_storage[4];
      VersionList work = LOCAL_LIST(work_storage), parked = LOCAL_LIST(parked_storage);
      list_add(s->grammar, &work, &copy);
      run_versions(&view, &work, &parked);
      for (uint32_t i = 0; i < parked.count && !found; i++) {
        found = parked.items[i].position > s->base + length;
      }
      list_free(s->grammar, &parked);
    }
  }
  return found;
}

// Whether the tail's token can grow, by a few characters from a small set, into a pattern token that the
// version accepts (`.` into the float `.5`, `..` into `...`). Only the token itself grows here, so the
// lexer's longest match cannot split it differently; breadth-first, with a bounded number of lexer calls.
static bool grows_into_acceptable(const VPState *s, const Version *v) {
  static const char probes[] = "a0.5xe_=>-*/+<&|:\"'";
  enum { probe_count = sizeof probes - 1, max_depth = 3, budget = 60, frontier_max = 4 };
  _Static_assert(max_depth <= PROBE_ROOM, "the probes fit the text's room");
  uint32_t length = s->text_length, calls = 0;
  char *buffer = s->text;   // the probes go after the text, in the room its buffer keeps there (PROBE_ROOM)
  char frontier[frontier_max][max_depth], next[frontier_max][max_depth];
  uint32_t count = 1, next_count;
  bool found = false;
  for (uint32_t depth = 1; depth <= max_depth && count > 0 && !found && calls < budget; depth++) {
    next_count = 0;
    for (uint32_t f = 0; f < count && !found && calls < budget; f++) {
      memcpy(buffer + length, frontier[f], depth - 1);
      for (uint32_t c = 0; c < probe_count && !found && calls < budget; c++) {
        buffer[length + depth - 1] = probes[c];
        LexResult r;
        lex(s, v, buffer, length + depth, &r);
        calls++;
        if (r.outcome == LEX_TOKEN && r.end > length) {
          if (acceptable(s->grammar, v, r.symbol, false, !s->reference)) found = true;
          else if (r.end == length + depth && r.at_end && next_count < frontier_max) {
            memcpy(next[next_count], buffer + length, depth);
            next_count++;
          }
        } else if (r.outcome == LEX_NONE && r.at_end && next_count < frontier_max) {
          memcpy(next[next_count], buffer + length, depth);
          next_count++;
        }
      }
    }
    memcpy(frontier, next, sizeof next);
    count = next_count;
  }
  return found;
}

// Whether the tail after version `v` (which has lexed everything before its position) can still become
// part of a valid program: the pending token is accepted as it stands, or more text can turn it into one.
// `v` is one that run_versions parked over this same text (its `tail` is the tail's token).
static bool tail_is_live(const VPState *s, const Version *v) {
  const TSLanguage *l = s->grammar->language;
  const Tail r = v->tail;
  // The external scanner (strings, indentation, heredocs…) declined because the text ended: more text
  // may give it its token (`print("abc` waits for its string content to end).
  if (r.scanner_at_end) return true;
  if (!r.token) {
    // Characters no token starts with are dead; a token the lexer is still inside may become one.
    if (!r.at_end) return false;
    return could_become(s->grammar, v, s->text + r.start, s->text_length - r.start, false, 0, !s->reference) ||
           extends(s, v);
  }
  if (r.symbol == 0) return true;                // only white space and extras before the end
  if (r.end < s->text_length) {
    // The lexer read on to the end, past this token, trying for a longer one (`in\u9a2` may become one
    // identifier, or stay `in` followed by something else): only a continuation can tell.
    return extends(s, v);
  }
  if (acceptable(s->grammar, v, r.symbol, true, !s->reference)) return true;
  // Not accepted as lexed; it can still grow into a literal that is: `i` into `if`, `-` into `->`.
  if (could_become(s->grammar, v, s->text + r.start, s->text_length - r.start, false, r.symbol, !s->reference)) {
    return true;
  }
  // Or, for an operator-like literal, into a pattern token (`.` into the float `.5`); a rejected pattern
  // token (an identifier, a number) only grows into more of the same or into keywords, checked above.
  TSSymbolMetadata meta = l->symbol_metadata[r.symbol];
  return !meta.named && meta.visible && grows_into_acceptable(s, v);
}

// Runs the state's versions over its text; the live ones among those that reach the end stay (in the state's
// array, which keeps its storage from one append to the next).
static bool advance(VPState *s) {
  Grammar *g = s->grammar;
  Version work_storage[4], parked_storage[4];
  VersionList work = LOCAL_LIST(work_storage), parked = LOCAL_LIST(parked_storage);
  for (uint32_t i = 0; i < s->count; i++) list_add(g, &work, &s->versions[i]);
  s->count = 0;
  run_versions(s, &work, &parked);
  bool room = reserve_versions(s, parked.count);
  for (uint32_t i = 0; i < parked.count; i++) {
    if (room && tail_is_live(s, &parked.items[i])) {
      s->versions[s->count++] = parked.items[i];
    } else {
      version_free(g, &parked.items[i]);
    }
  }
  list_release(&parked);
  return s->count > 0;
}

// Drops text that every version has lexed past.
static void trim(VPState *s) {
  if (s->count == 0) return;
  uint64_t lowest = s->versions[0].position;
  for (uint32_t i = 1; i < s->count; i++) if (s->versions[i].position < lowest) lowest = s->versions[i].position;
  uint32_t drop = (uint32_t)(lowest - s->base);
  if (drop == 0) return;
  uint32_t column = s->base_column;
  for (uint32_t i = 0; i < drop; i++) {
    if (s->text[i] == '\n') column = 0;
    else if (((unsigned char)s->text[i] & 0xC0) != 0x80) column++;
  }
  memmove(s->text, s->text + drop, s->text_length - drop);
  s->text_length -= drop;
  s->base += drop;
  s->base_column = column;
}

int vp_append(VPState *s, const char *bytes, uint32_t length) {
  if (s->dead) return 0;
  if (length == 0) return 1;
  if (s->text_length > UINT32_MAX - length || !reserve_text(s, s->text_length + length)) {
    s->dead = true;
    return 0;
  }
  memcpy(s->text + s->text_length, bytes, length);
  s->text_length += length;
  s->total += length;
  if (!advance(s)) {
    s->dead = true;
    return 0;
  }
  trim(s);
  return 1;
}

// What vp_append decides, without changing the state or cloning it: the bytes go after the text, in its
// buffer's spare room (past text_length, so not part of the state), and copies of the versions (their stacks
// from the grammar's spares) run over a view of the state with the longer text. Nothing is allocated once the
// buffers have grown to what the text needs; the first live version found decides.
int vp_check(VPState *s, const char *bytes, uint32_t length) {
  if (s->dead) return 0;
  if (length == 0) return 1;
  if (s->text_length > UINT32_MAX - length || !reserve_text(s, s->text_length + length)) return 0;
  memcpy(s->text + s->text_length, bytes, length);
  VPState view = *s;
  view.text_length += length;
  view.total += length;
  view.versions = NULL;   // the view's versions are the work list's copies
  view.count = view.capacity = 0;
  Grammar *g = s->grammar;
  Version work_storage[4], parked_storage[4];
  VersionList work = LOCAL_LIST(work_storage), parked = LOCAL_LIST(parked_storage);
  for (uint32_t i = 0; i < s->count; i++) {
    Version copy;
    if (!version_init(g, &copy, &s->versions[i])) {
      list_free(g, &work);
      return 0;
    }
    list_add(g, &work, &copy);
  }
  run_versions(&view, &work, &parked);
  bool viable = false;
  for (uint32_t i = 0; i < parked.count && !viable; i++) viable = tail_is_live(&view, &parked.items[i]);
  list_free(g, &parked);
  return viable;
}

int vp_is_viable(const VPState *s) { return !s->dead; }

void vp_set_reference(VPState *s, int on) { s->reference = on != 0; }

uint32_t vp_version_count(const VPState *s) { return s->count; }

uint64_t vp_length(const VPState *s) { return s->total; }

static uint64_t mix(uint64_t h, uint64_t x) {
  h ^= x + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
  return h * 0xBF58476D1CE4E5B9ULL;
}

uint64_t vp_key(const VPState *s) {
  uint64_t h = mix(0, s->dead);
  for (uint32_t i = 0; i < s->count; i++) {
    const Version *v = &s->versions[i];
    uint64_t vh = mix(v->depth, s->base + s->text_length - v->position);
    // The top of the stack decides the near future; deep entries matter only once reductions reach them.
    for (uint32_t d = 0; d < v->depth; d++) vh = mix(vh, v->stack[d]);
    const char *scanner = version_scanner(v);
    for (uint32_t b = 0; b < v->scanner_length; b++) vh = mix(vh, (unsigned char)scanner[b]);
    h ^= vh;  // order-independent over versions
  }
  for (uint32_t i = 0; i < s->text_length; i++) h = mix(h, (unsigned char)s->text[i]);
  return mix(h, s->base_column);
}

#else

VPState *vp_create(const void *language) { (void)language; return 0; }
VPState *vp_clone(const VPState *state) { (void)state; return 0; }
int vp_assign(VPState *state, const VPState *from) { (void)state; (void)from; return 0; }
void vp_destroy(VPState *state) { (void)state; }
int vp_append(VPState *state, const char *bytes, uint32_t length) { (void)state; (void)bytes; (void)length; return 0; }
int vp_check(VPState *state, const char *bytes, uint32_t length) { (void)state; (void)bytes; (void)length; return 0; }
int vp_is_viable(const VPState *state) { (void)state; return 0; }
void vp_set_reference(VPState *state, int on) { (void)state; (void)on; }
uint32_t vp_version_count(const VPState *state) { (void)state; return 0; }
uint64_t vp_length(const VPState *state) { (void)state; return 0; }
uint64_t vp_key(const VPState *state) { (void)state; return 0; }

#endif
