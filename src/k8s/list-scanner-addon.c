/*
 * The byte scan of list-scanner.ts, in C: at 10k services a real API
 * server's lists are 63 MB, and reading them a byte at a time in JavaScript
 * took most of the agent's listing. It finds each element of the root's
 * "items" array and the root's "metadata" object, and copies each out with
 * the pairs whose keys are to be dropped cut from it (at any depth), for
 * JSON.parse. It knows JSON only as far as it needs: strings and their
 * escapes, nesting, and which strings are object keys.
 *
 *   const s = addon.create(['managedFields', ...], events);
 *   addon.push(s, chunk);  // [[0, itemJson] | [1, metadataJson] | [2, error], ...] in order
 *   addon.end(s);          // an error message, or null when the list ended whole
 *
 * With `events`, the input is a watch's stream of events instead (JSON
 * objects one per line), and each whole event is an item.
 */
#define ADDON_NAME "list scanner"
#include "../kernel/addon.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


enum { QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c, COLON = 0x3a, OPEN_OBJ = 0x7b, CLOSE_OBJ = 0x7d, OPEN_ARR = 0x5b, CLOSE_ARR = 0x5d };
/* The longest root key the scan looks for ("metadata"). */
#define ROOT_KEY_MAX 8
enum capture { NONE, ITEM, METADATA };
enum cut_kind { UNKNOWN, SCALAR, CONTAINER };

struct level {
  char object;
  char expect_key; /* in an object: the next string is a key */
  char kept;       /* some pair of this object is in the output */
  char drop_comma; /* its first pair was cut: the comma after it goes too */
  size_t comma_at; /* where its last comma went in the output */
};

struct scanner {
  struct level *levels;
  size_t depth, room;
  int in_string, escape, keying;
  size_t key_len, key_at;
  unsigned char *key; /* the key being read; only its length beyond key_room */
  size_t key_room;
  char **drop;
  size_t *drop_len;
  size_t drops;
  char root_key[ROOT_KEY_MAX + 1];
  enum capture capture;
  size_t capture_depth;
  unsigned char *out;
  size_t out_len, out_room;
  long run_start; /* start in the current chunk of the bytes being copied; -1: none */
  int cutting;
  size_t cut_depth;
  enum cut_kind cut_kind;
  const char *error;
  int events; /* a stream of events, not a list */
};

/* What one push produced, in order. */
struct result {
  napi_env env;
  napi_value array;
  uint32_t n;
};

static int emit(struct result *r, int kind, const char *text, size_t len) {
  napi_value pair, k, s;
  if (napi_create_array_with_length(r->env, 2, &pair) != napi_ok || napi_create_int32(r->env, kind, &k) != napi_ok ||
      napi_create_string_utf8(r->env, text, len, &s) != napi_ok || napi_set_element(r->env, pair, 0, k) != napi_ok ||
      napi_set_element(r->env, pair, 1, s) != napi_ok || napi_set_element(r->env, r->array, r->n++, pair) != napi_ok) {
    return -1;
  }
  return 0;
}

static int is_space(unsigned char c) { return c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09; }

/*
 * The index of the first quote, backslash or newline in chunk[i, len), or
 * len: where a string's plain bytes end. Eight bytes at a time, as most of a
 * list's bytes are such runs; the lowest flagged byte of a word is exact.
 */
static size_t string_stop(const unsigned char *chunk, size_t i, size_t len) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  for (; i + 8 <= len; i += 8) {
    uint64_t w, q, b, n;
    memcpy(&w, chunk + i, 8);
    q = w ^ (ones * QUOTE);
    b = w ^ (ones * BACKSLASH);
    n = w ^ (ones * 0x0a);
    uint64_t zero = ((q - ones) & ~q) | ((b - ones) & ~b) | ((n - ones) & ~n);
    zero &= highs;
    if (zero) return i + (size_t)(__builtin_ctzll(zero) >> 3);
  }
#endif
  while (i < len && chunk[i] != QUOTE && chunk[i] != BACKSLASH && chunk[i] != 0x0a) i++;
  return i;
}

static struct level *top(struct scanner *s) { return s->depth ? &s->levels[s->depth - 1] : NULL; }

static size_t offset(struct scanner *s, size_t i) { return s->out_len + (s->run_start >= 0 ? i - (size_t)s->run_start : 0); }

/* Copies the run so far (up to chunk index end) to the output. */
static int flush(struct scanner *s, const unsigned char *chunk, size_t end) {
  if (s->run_start < 0 || s->capture == NONE) return 0;
  size_t n = end - (size_t)s->run_start;
  if (n > 0) {
    if (s->out_len + n > s->out_room) {
      size_t room = s->out_room * 2 > s->out_len + n ? s->out_room * 2 : s->out_len + n;
      unsigned char *grown = realloc(s->out, room);
      if (!grown) return -1;
      s->out = grown;
      s->out_room = room;
    }
    memcpy(s->out + s->out_len, chunk + s->run_start, n);
    s->out_len += n;
  }
  s->run_start = (long)end;
  return 0;
}

static void string_start(struct scanner *s, size_t i) {
  s->in_string = 1;
  struct level *l = top(s);
  if (!l || !l->object || !l->expect_key) return;
  s->keying = 1;
  s->key_len = 0;
  s->key_at = offset(s, i);
}

/* The key just read is one to drop. */
static int dropped(struct scanner *s) {
  for (size_t d = 0; d < s->drops; d++) {
    if (s->drop_len[d] == s->key_len && memcmp(s->drop[d], s->key, s->key_len) == 0) return 1;
  }
  return 0;
}

static int string_end(struct scanner *s, const unsigned char *chunk, size_t i) {
  s->in_string = 0;
  if (!s->keying) return 0;
  s->keying = 0;
  struct level *l = top(s);
  l->expect_key = 0;
  if (s->depth == 1) {
    size_t n = s->key_len <= ROOT_KEY_MAX ? s->key_len : 0;
    memcpy(s->root_key, s->key, n);
    s->root_key[n] = 0;
  }
  if (s->capture == NONE) return 0;
  if (s->key_len > s->key_room || !dropped(s)) {
    l->kept = 1;
    return 0;
  }
  /* Cut the pair: back to the comma before it, or for a first pair to its key (the comma after it goes too). */
  if (flush(s, chunk, i + 1) < 0) return -1;
  s->out_len = l->kept ? l->comma_at : s->key_at;
  if (!l->kept) l->drop_comma = 1;
  s->run_start = -1;
  s->cutting = 1;
  s->cut_depth = s->depth;
  s->cut_kind = UNKNOWN;
  return 0;
}

static int open_level(struct scanner *s, int object, size_t i) {
  if (s->depth == s->room) {
    size_t room = s->room ? s->room * 2 : 32;
    struct level *grown = realloc(s->levels, room * sizeof *grown);
    if (!grown) return -1;
    s->levels = grown;
    s->room = room;
  }
  s->levels[s->depth++] = (struct level){.object = (char)object, .expect_key = (char)object};
  if (s->capture != NONE) return 0;
  if (s->events) {
    if (s->depth > 1) return 0;
    if (!object) {
      s->error = "an event is not a JSON object";
      return 0;
    }
    s->capture = ITEM;
    s->capture_depth = 1;
    s->out_len = 0;
    s->run_start = (long)i;
    return 0;
  }
  /* Items are the elements of the root's "items" array; metadata is the root's "metadata" object. */
  int in_items = s->depth == 3 && strcmp(s->root_key, "items") == 0 && !s->levels[1].object;
  if (in_items && !object) {
    s->error = "an element of items is not an object";
    return 0;
  }
  if (!in_items && !(s->depth == 2 && object && strcmp(s->root_key, "metadata") == 0)) return 0;
  s->capture = in_items ? ITEM : METADATA;
  s->capture_depth = s->depth;
  s->out_len = 0;
  s->run_start = (long)i;
  return 0;
}

static int close_level(struct scanner *s, const unsigned char *chunk, size_t i, struct result *r) {
  if (s->depth == 0) {
    s->error = "a bracket closes nothing";
    return 0;
  }
  size_t depth = s->depth--;
  struct level *parent = top(s);
  if (parent && parent->object) parent->expect_key = 0;
  if (s->capture == NONE || depth != s->capture_depth) return 0;
  if (flush(s, chunk, i + 1) < 0) return -1;
  int kind = s->capture == ITEM ? 0 : 1;
  s->capture = NONE;
  s->run_start = -1;
  return emit(r, kind, (const char *)s->out, s->out_len);
}

static int comma(struct scanner *s, const unsigned char *chunk, size_t i) {
  struct level *l = top(s);
  if (!l || !l->object) return 0;
  l->expect_key = 1;
  if (s->capture == NONE) return 0;
  if (l->drop_comma) {
    if (flush(s, chunk, i) < 0) return -1;
    s->run_start = (long)i + 1;
    l->drop_comma = 0;
  } else {
    l->comma_at = offset(s, i);
  }
  return 0;
}

/*
 * Inside a cut object or array, from chunk[i]: only strings and nesting
 * matter until it closes, and nothing is copied, so the levels within are
 * counted, not kept. Returns where the general scan goes on: after the
 * closing bracket, at a newline in an event (still cutting), or len.
 */
static size_t skip_cut(struct scanner *s, const unsigned char *chunk, size_t i, size_t len) {
  while (i < len) {
    if (s->in_string) {
      if (s->escape) {
        s->escape = 0;
        i++;
        continue;
      }
      i = string_stop(chunk, i, len);
      if (i == len) break;
      unsigned char c = chunk[i];
      if (c == 0x0a && s->events) break; /* at the newline: the general scan names the error */
      i++;
      if (c == QUOTE) s->in_string = 0;
      else if (c == BACKSLASH) s->escape = 1;
      continue;
    }
    unsigned char c = chunk[i];
    if (c == QUOTE) s->in_string = 1;
    else if (c == OPEN_OBJ || c == OPEN_ARR) s->depth++;
    else if (c == CLOSE_OBJ || c == CLOSE_ARR) {
      if (--s->depth == s->cut_depth) {
        s->cutting = 0; /* the cut object or array ends here */
        s->run_start = (long)i + 1;
        return i + 1;
      }
    } else if (c == 0x0a && s->events) break; /* as above */
    i++;
  }
  return i;
}

static int scan(struct scanner *s, const unsigned char *chunk, size_t len, struct result *r) {
  s->run_start = s->capture != NONE && !s->cutting ? 0 : -1;
  for (size_t i = 0; i < len && !s->error; i++) {
    if (s->cutting && s->cut_kind == CONTAINER) {
      i = skip_cut(s, chunk, i, len);
      if (i == len) break;
    }
    /* Most bytes are inside strings, where only a quote, a backslash or a newline means anything. */
    if (s->in_string && !s->escape) {
      size_t end = string_stop(chunk, i, len);
      if (s->keying) {
        size_t n = end - i;
        if (s->key_len < s->key_room) memcpy(s->key + s->key_len, chunk + i, n < s->key_room - s->key_len ? n : s->key_room - s->key_len);
        s->key_len += n;
      }
      i = end;
      if (i == len) break;
    }
    unsigned char c = chunk[i];
    /* An event is one line (the API server writes compact JSON): a line that ends inside one is malformed. */
    if (s->events && c == 0x0a && s->depth > 0) {
      s->error = "an event ends before its line does";
      break;
    }
    if (s->in_string) {
      if (s->escape) s->escape = 0;
      else if (c == BACKSLASH) s->escape = 1;
      else if (c == QUOTE) {
        if (string_end(s, chunk, i) < 0) return -1;
      } else if (s->keying) {
        if (s->key_len < s->key_room) s->key[s->key_len] = c;
        s->key_len++;
      }
      continue;
    }
    if (s->cutting && s->cut_kind != CONTAINER) {
      if (s->cut_kind == UNKNOWN) {
        if (c == COLON || is_space(c)) continue;
        s->cut_kind = c == OPEN_OBJ || c == OPEN_ARR ? CONTAINER : SCALAR;
      }
      if (s->cut_kind == SCALAR) {
        if (c == QUOTE) {
          s->in_string = 1;
          continue;
        }
        if (c != COMMA && c != CLOSE_OBJ && !is_space(c)) continue;
        /* The scalar ended: what follows it is read (and copied) as usual. */
        s->cutting = 0;
        s->run_start = (long)i;
      }
    }
    if (s->events && s->depth == 0 && c != OPEN_OBJ && !is_space(c)) {
      s->error = "an event is not a JSON object";
      break;
    }
    int rc = 0;
    if (c == QUOTE) string_start(s, i);
    else if (c == OPEN_OBJ || c == OPEN_ARR) rc = open_level(s, c == OPEN_OBJ, i);
    else if (c == CLOSE_OBJ || c == CLOSE_ARR) rc = close_level(s, chunk, i, r);
    else if (c == COMMA) rc = comma(s, chunk, i);
    if (rc < 0) return -1;
  }
  if (s->error) return emit(r, 2, s->error, strlen(s->error));
  return flush(s, chunk, len);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct scanner *s = data;
  for (size_t d = 0; d < s->drops; d++) free(s->drop[d]);
  free(s->drop);
  free(s->drop_len);
  free(s->key);
  free(s->levels);
  free(s->out);
  free(s);
}

static napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t n = 0;
  bool is_array = false, events = false;
  if (argc == 2) CHECK(env, napi_is_array(env, argv[0], &is_array));
  if (!is_array || napi_get_value_bool(env, argv[1], &events) != napi_ok) {
    napi_throw_type_error(env, NULL, "create(dropKeys: string[], events: boolean)");
    return NULL;
  }
  CHECK(env, napi_get_array_length(env, argv[0], &n));
  struct scanner *s = calloc(1, sizeof *s);
  if (!s || !(s->drop = calloc(n ? n : 1, sizeof *s->drop)) || !(s->drop_len = calloc(n ? n : 1, sizeof *s->drop_len))) goto oom;
  s->key_room = ROOT_KEY_MAX;
  s->events = events;
  for (uint32_t k = 0; k < n; k++) {
    napi_value v;
    size_t len;
    CHECK(env, napi_get_element(env, argv[0], k, &v));
    if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
      finalize(env, s, NULL);
      napi_throw_type_error(env, NULL, "create(dropKeys: string[], events: boolean)");
      return NULL;
    }
    if (!(s->drop[k] = malloc(len + 1))) goto oom;
    s->drops = k + 1;
    CHECK(env, napi_get_value_string_utf8(env, v, s->drop[k], len + 1, &len));
    s->drop_len[k] = len;
    if (len > s->key_room) s->key_room = len;
  }
  s->out_room = 1 << 16;
  if (!(s->key = malloc(s->key_room)) || !(s->out = malloc(s->out_room))) goto oom;
  napi_value external;
  CHECK(env, napi_create_external(env, s, finalize, NULL, &external));
  return external;
oom:
  if (s) finalize(env, s, NULL);
  napi_throw_error(env, NULL, "list scanner addon: out of memory");
  return NULL;
}

static struct scanner *get(napi_env env, napi_value v) {
  struct scanner *s;
  if (napi_get_value_external(env, v, (void **)&s) != napi_ok) {
    napi_throw_type_error(env, NULL, "not a list scanner");
    return NULL;
  }
  return s;
}

static napi_value push(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct scanner *s = argc == 2 ? get(env, argv[0]) : NULL;
  void *data;
  size_t len;
  if (!s || napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "push(scanner, chunk: Buffer)");
    return NULL;
  }
  struct result r = {.env = env};
  CHECK(env, napi_create_array(env, &r.array));
  if (s->error) return r.array; /* it stopped at its first error */
  if (scan(s, data, len, &r) < 0) {
    napi_throw_error(env, NULL, "list scanner addon: out of memory");
    return NULL;
  }
  return r.array;
}

static napi_value end(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct scanner *s = argc == 1 ? get(env, argv[0]) : NULL;
  if (!s) return NULL;
  if (s->depth > 0 || s->in_string) {
    CHECK(env, napi_create_string_utf8(env, "the list ended inside its JSON", NAPI_AUTO_LENGTH, &out));
    return out;
  }
  CHECK(env, napi_get_null(env, &out));
  return out;
}

NAPI_MODULE_INIT() {
  const napi_property_descriptor fns[] = {FUNCTION("create", create), FUNCTION("push", push), FUNCTION("end", end)};
  DEFINE(env, exports, fns);
  return exports;
}
