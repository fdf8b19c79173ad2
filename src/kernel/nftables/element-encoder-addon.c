/*
 * Set elements as nf_tables carries them, read from nft's element text (the
 * layout is element-encoding.ts's): a node's first start writes 200k
 * elements at 10k services, and reading them field by field in JavaScript
 * took twice as long as the kernel took to commit them.
 *
 *   const e = addon.create(keyFields, data);  // fields: element-encoding.ts's FIELD codes;
 *                                             // data: 'verdict', data fields, or null for a set
 *   end = addon.element(e, key, data, comment, buf, at); // writes one NFTA_LIST_ELEM at buf[at..end)
 *   end = addon.key(e, key, buf, at);                    // the same with the key alone
 *
 * Either throws a TypeError naming what is wrong with the text; what it
 * wrote past `at` before then is not counted by its caller.
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#define ADDON_NAME "element encoder"
#include "../addon.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum field { IPV4 = 1, IPV6 = 2, PROTO = 3, PORT = 4, NUMBER = 5 };
enum data_kind { NO_DATA, VERDICT, VALUE };
#define MAX_FIELDS 8
/* The longest element text read, and the most bytes one element takes. */
#define TEXT_MAX 1024
#define ELEMENT_MAX 1024

enum {
  NLA_F_NESTED = 0x8000,
  NFTA_LIST_ELEM = 1,
  NFTA_SET_ELEM_KEY = 1,
  NFTA_SET_ELEM_DATA = 2,
  NFTA_SET_ELEM_USERDATA = 6,
  NFTA_DATA_VALUE = 1,
  NFTA_DATA_VERDICT = 2,
  NFTA_VERDICT_CODE = 1,
  NFTA_VERDICT_CHAIN = 2,
  NFTNL_UDATA_SET_ELEM_COMMENT = 0,
};

struct layout {
  uint32_t n;
  uint8_t fields[MAX_FIELDS];
};

struct encoder {
  struct layout key, data;
  enum data_kind kind;
};

/* Why the last parse failed. */
static char error[TEXT_MAX + 128];

static int fail(const char *what, const char *s, size_t n) {
  snprintf(error, sizeof error, "not %s: \"%.*s\"", what, (int)n, s);
  return -1;
}

static int not_decimal(const char *s, size_t n, uint64_t max) {
  char what[48];
  snprintf(what, sizeof what, "a number up to %llu", (unsigned long long)max);
  return fail(what, s, n);
}

/* A decimal number without leading zeros, up to max. */
static int decimal(const char *s, size_t n, uint64_t max, uint64_t *out) {
  uint64_t v = 0;
  if (n == 0 || n > 10 || (n > 1 && s[0] == '0')) return not_decimal(s, n, max);
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return not_decimal(s, n, max);
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  if (v > max) return not_decimal(s, n, max);
  *out = v;
  return 0;
}

/* One field of text into its registers at out (4 or 16 bytes, unused bytes zero); returns its length. */
static int field(uint8_t type, const char *s, size_t n, uint8_t *out) {
  uint64_t v;
  memset(out, 0, 4);
  switch (type) {
    case IPV4: {
      size_t part = 0;
      for (int b = 0; b < 4; b++) {
        size_t dot = part;
        while (dot < n && s[dot] != '.') dot++;
        if ((b < 3) != (dot < n)) return fail("an ipv4 address", s, n);
        if (decimal(s + part, dot - part, 255, &v) < 0) return -1;
        out[b] = (uint8_t)v;
        part = dot + 1;
      }
      return 4;
    }
    case IPV6: {
      char text[64];
      if (n >= sizeof text) return fail("an ipv6 address", s, n);
      memcpy(text, s, n);
      text[n] = 0;
      if (inet_pton(AF_INET6, text, out) != 1) return fail("an ipv6 address", s, n);
      return 16;
    }
    case PROTO:
      if (n == 3 && !memcmp(s, "tcp", 3)) v = 6;
      else if (n == 3 && !memcmp(s, "udp", 3)) v = 17;
      else if (n == 4 && !memcmp(s, "sctp", 4)) v = 132;
      else if (decimal(s, n, 255, &v) < 0) return -1;
      out[0] = (uint8_t)v;
      return 4;
    case PORT: /* network order */
      if (decimal(s, n, 65535, &v) < 0) return -1;
      out[0] = (uint8_t)(v >> 8);
      out[1] = (uint8_t)v;
      return 4;
    case NUMBER: { /* numgen's result: host order */
      if (decimal(s, n, 0xffffffffu, &v) < 0) return -1;
      uint32_t u = (uint32_t)v;
      memcpy(out, &u, 4);
      return 4;
    }
  }
  return fail("a known field", s, n);
}

/* A concatenation ("10.0.0.1 . tcp . 80") into out; returns its length in bytes. */
static int concatenation(const struct layout *l, const char *s, size_t n, uint8_t *out) {
  size_t from = 0;
  int bytes = 0;
  for (uint32_t i = 0; i < l->n; i++) {
    const char *sep = memmem(s + from, n - from, " . ", 3);
    int last = i == l->n - 1;
    if (last == (sep != NULL)) {
      snprintf(error, sizeof error, "\"%.*s\" is not %u fields", (int)n, s, l->n);
      return -1;
    }
    size_t to = last ? n : (size_t)(sep - s);
    int len = field(l->fields[i], s + from, to - from, out + bytes);
    if (len < 0) return -1;
    bytes += len;
    from = to + 3;
  }
  return bytes;
}

static int verdict(const char *s, size_t n, int32_t *code, const char **chain, size_t *chain_len) {
  static const struct { const char *verb; int32_t code; int chain; } verbs[] = {
    {"drop", 0, 0}, {"accept", 1, 0}, {"continue", -1, 0}, {"return", -5, 0}, {"jump", -3, 1}, {"goto", -4, 1},
  };
  const char *space = memchr(s, ' ', n);
  size_t verb_len = space ? (size_t)(space - s) : n;
  *chain = space ? space + 1 : NULL;
  *chain_len = space ? n - verb_len - 1 : 0;
  for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++) {
    if (strlen(verbs[i].verb) != verb_len || memcmp(verbs[i].verb, s, verb_len)) continue;
    /* nf_tables names chains in at most 255 bytes */
    if (verbs[i].chain != (space != NULL) || (space && (*chain_len == 0 || *chain_len > 255))) break;
    for (size_t j = 0; j < *chain_len; j++) {
      char c = (*chain)[j];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) {
        return fail("a verdict", s, n);
      }
    }
    *code = verbs[i].code;
    return 0;
  }
  return fail("a verdict", s, n);
}

/* Netlink attributes: a 4-byte header (length without padding, type), the payload padded to 4 bytes. */
static size_t attr(uint8_t *buf, size_t at, uint16_t type, const void *payload, size_t len) {
  uint16_t header[2] = {(uint16_t)(4 + len), type};
  memcpy(buf + at, header, 4);
  memcpy(buf + at + 4, payload, len);
  size_t end = at + 4 + len;
  while (end & 3) buf[end++] = 0;
  return end;
}

static size_t open_nested(uint8_t *buf, size_t at, uint16_t type) {
  uint16_t header[2] = {0, (uint16_t)(type | NLA_F_NESTED)};
  memcpy(buf + at, header, 4);
  return at + 4;
}

static void close_nested(uint8_t *buf, size_t start, size_t end) {
  uint16_t len = (uint16_t)(end - start);
  memcpy(buf + start, &len, 2);
}

static int get_text(napi_env env, napi_value v, char *out, size_t *len) {
  return napi_get_value_string_utf8(env, v, out, TEXT_MAX, len) == napi_ok && *len < TEXT_MAX - 1 ? 0 : -1;
}

static int get_layout(napi_env env, napi_value v, struct layout *l) {
  bool is_array;
  if (napi_is_array(env, v, &is_array) != napi_ok || !is_array) return -1;
  if (napi_get_array_length(env, v, &l->n) != napi_ok || l->n == 0 || l->n > MAX_FIELDS) return -1;
  for (uint32_t i = 0; i < l->n; i++) {
    napi_value f;
    uint32_t code;
    if (napi_get_element(env, v, i, &f) != napi_ok || napi_get_value_uint32(env, f, &code) != napi_ok) return -1;
    if (code < IPV4 || code > NUMBER) return -1;
    l->fields[i] = (uint8_t)code;
  }
  return 0;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct encoder *e = calloc(1, sizeof *e);
  if (!e) {
    napi_throw_error(env, NULL, "element encoder addon: out of memory");
    return NULL;
  }
  napi_valuetype t = napi_undefined;
  if (argc == 2) napi_typeof(env, argv[1], &t);
  char kind[8];
  size_t len;
  int ok = argc == 2 && get_layout(env, argv[0], &e->key) == 0;
  if (ok && t == napi_string) {
    ok = napi_get_value_string_utf8(env, argv[1], kind, sizeof kind, &len) == napi_ok && !strcmp(kind, "verdict");
    e->kind = VERDICT;
  } else if (ok && t == napi_object) {
    ok = get_layout(env, argv[1], &e->data) == 0;
    e->kind = VALUE;
  } else {
    ok = ok && t == napi_null;
  }
  if (!ok) {
    free(e);
    napi_throw_type_error(env, NULL, "create(keyFields: number[], data: 'verdict' | number[] | null)");
    return NULL;
  }
  napi_value external;
  CHECK(env, napi_create_external(env, e, finalize, NULL, &external));
  return external;
}

/* The encoder, the output buffer and the offset to write at, from arguments [0], [n-2] and [n-1]; NULL having thrown if not. */
static struct encoder *target(napi_env env, napi_value *argv, size_t argc, size_t want, uint8_t **buf, size_t *at, const char *usage) {
  struct encoder *e;
  void *data;
  size_t len;
  int64_t offset;
  if (argc != want || napi_get_value_external(env, argv[0], (void **)&e) != napi_ok ||
      napi_get_buffer_info(env, argv[argc - 2], &data, &len) != napi_ok ||
      napi_get_value_int64(env, argv[argc - 1], &offset) != napi_ok || offset < 0 || (size_t)offset + ELEMENT_MAX > len) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  *buf = data;
  *at = (size_t)offset;
  return e;
}

static napi_value finish(napi_env env, size_t end) {
  napi_value out;
  CHECK(env, napi_create_uint32(env, (uint32_t)end, &out));
  return out;
}

/* The NFTA_SET_ELEM_KEY for `key`, after the NFTA_LIST_ELEM header at `at`; returns its end, or 0 having set error. */
static size_t write_key(const struct encoder *e, const char *key, size_t key_len, uint8_t *buf, size_t at) {
  uint8_t bytes[MAX_FIELDS * 16];
  int n = concatenation(&e->key, key, key_len, bytes);
  if (n < 0) return 0;
  size_t k = open_nested(buf, at, NFTA_SET_ELEM_KEY);
  size_t end = attr(buf, k, NFTA_DATA_VALUE, bytes, (size_t)n);
  close_nested(buf, at, end);
  return end;
}

static napi_value key(napi_env env, napi_callback_info info) {
  size_t argc = 4, at, len;
  napi_value argv[4];
  uint8_t *buf;
  char text[TEXT_MAX];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct encoder *e = target(env, argv, argc, 4, &buf, &at, "key(encoder, key: string, buf: Buffer, at: number)");
  if (!e) return NULL;
  if (get_text(env, argv[1], text, &len) < 0) {
    napi_throw_type_error(env, NULL, "an element's key: a string of fewer than 1023 bytes");
    return NULL;
  }
  size_t end = write_key(e, text, len, buf, open_nested(buf, at, NFTA_LIST_ELEM));
  if (!end) {
    napi_throw_type_error(env, NULL, error);
    return NULL;
  }
  close_nested(buf, at, end);
  return finish(env, end);
}

static napi_value element(napi_env env, napi_callback_info info) {
  size_t argc = 6, at, key_len, data_len, comment_len = 0;
  napi_value argv[6];
  uint8_t *buf;
  char key_text[TEXT_MAX], data_text[TEXT_MAX], comment[TEXT_MAX];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct encoder *e = target(env, argv, argc, 6, &buf, &at, "element(encoder, key: string, data: string, comment: string | null, buf: Buffer, at: number)");
  if (!e) return NULL;
  napi_valuetype comment_type;
  CHECK(env, napi_typeof(env, argv[3], &comment_type));
  int has_comment = comment_type == napi_string;
  if (get_text(env, argv[1], key_text, &key_len) < 0 || get_text(env, argv[2], data_text, &data_len) < 0 ||
      (has_comment && get_text(env, argv[3], comment, &comment_len) < 0)) {
    napi_throw_type_error(env, NULL, "an element's key, data and comment: strings of fewer than 1023 bytes");
    return NULL;
  }
  if ((data_len == 0) == (e->kind != NO_DATA)) {
    snprintf(error, sizeof error, "element \"%.*s\": %s", (int)key_len, key_text, e->kind != NO_DATA ? "no data for a map" : "data for a set");
    napi_throw_type_error(env, NULL, error);
    return NULL;
  }
  /* Everything is read before anything is written. */
  uint8_t data[MAX_FIELDS * 16];
  int data_bytes = 0;
  int32_t code = 0;
  const char *chain = NULL;
  size_t chain_len = 0;
  if (e->kind == VALUE) data_bytes = concatenation(&e->data, data_text, data_len, data);
  if (e->kind == VERDICT) data_bytes = verdict(data_text, data_len, &code, &chain, &chain_len);
  if (has_comment && comment_len + 1 > 255) data_bytes = fail("a comment of up to 254 bytes", comment, comment_len);
  size_t end = data_bytes < 0 ? 0 : write_key(e, key_text, key_len, buf, open_nested(buf, at, NFTA_LIST_ELEM));
  if (!end) {
    napi_throw_type_error(env, NULL, error);
    return NULL;
  }
  if (e->kind != NO_DATA) {
    size_t d = end;
    end = open_nested(buf, d, NFTA_SET_ELEM_DATA);
    if (e->kind == VALUE) {
      end = attr(buf, end, NFTA_DATA_VALUE, data, (size_t)data_bytes);
    } else {
      size_t v = end;
      uint32_t be = htonl((uint32_t)code);
      end = attr(buf, open_nested(buf, v, NFTA_DATA_VERDICT), NFTA_VERDICT_CODE, &be, 4);
      /* The chain name ends data_text, which N-API wrote NUL-terminated. */
      if (chain) end = attr(buf, end, NFTA_VERDICT_CHAIN, chain, chain_len + 1);
      close_nested(buf, v, end);
    }
    close_nested(buf, d, end);
  }
  if (has_comment) {
    /* nft's user data: type, length, the text NUL-terminated. */
    uint8_t userdata[2 + 255];
    userdata[0] = NFTNL_UDATA_SET_ELEM_COMMENT;
    userdata[1] = (uint8_t)(comment_len + 1);
    memcpy(userdata + 2, comment, comment_len);
    userdata[2 + comment_len] = 0;
    end = attr(buf, end, NFTA_SET_ELEM_USERDATA, userdata, comment_len + 3);
  }
  close_nested(buf, at, end);
  return finish(env, end);
}

NAPI_MODULE_INIT() {
  napi_value element_max;
  CHECK(env, napi_create_uint32(env, ELEMENT_MAX, &element_max));
  const napi_property_descriptor fns[] = {
      FUNCTION("create", create), FUNCTION("element", element), FUNCTION("key", key),
      {"elementMax", NULL, NULL, NULL, NULL, element_max, napi_enumerable, NULL},
  };
  DEFINE(env, exports, fns);
  return exports;
}
