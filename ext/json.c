/*
** json.c: strict JSON reader (RFC 8259).  See json.h.
*/
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "mem.h"
#include "strbuf.h"

typedef struct parser {
  const char *z;
  size_t n, i;
  int depth;
  int rc;          /* 0, -1 syntax, -2 out of memory */
  char *err;
  size_t nerr;
} parser;

static void fail(parser *p, const char *what) {
  if (p->rc) return;
  p->rc = -1;
  if (p->nerr) snprintf(p->err, p->nerr, "%s at offset %zu", what, p->i);
}

static void oom(parser *p) {
  if (!p->rc) p->rc = -2;
  if (p->nerr) snprintf(p->err, p->nerr, "out of memory");
}

static void skip_ws(parser *p) {
  while (p->i < p->n) {
    char c = p->z[p->i];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    p->i++;
  }
}

static int literal(parser *p, const char *word) {
  size_t len = strlen(word);
  if (p->n - p->i >= len && memcmp(p->z + p->i, word, len) == 0) {
    p->i += len;
    return 1;
  }
  return 0;
}

static int hex4(parser *p, unsigned *out) {
  if (p->n - p->i < 4) return 0;
  unsigned v = 0;
  for (int k = 0; k < 4; k++) {
    char c = p->z[p->i + k];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return 0;
  }
  p->i += 4;
  *out = v;
  return 1;
}

static void put_utf8(ml_sb *b, unsigned cp) {
  char u[4];
  size_t len;
  if (cp < 0x80) {
    u[0] = (char)cp;
    len = 1;
  } else if (cp < 0x800) {
    u[0] = (char)(0xC0 | (cp >> 6));
    u[1] = (char)(0x80 | (cp & 0x3F));
    len = 2;
  } else if (cp < 0x10000) {
    u[0] = (char)(0xE0 | (cp >> 12));
    u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[2] = (char)(0x80 | (cp & 0x3F));
    len = 3;
  } else {
    u[0] = (char)(0xF0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (char)(0x80 | (cp & 0x3F));
    len = 4;
  }
  ml_sb_append(b, u, len);
}

/* Length of the valid UTF-8 sequence at z[0..n), or 0 if it is not valid. */
static size_t utf8_len(const unsigned char *z, size_t n) {
  unsigned c = z[0];
  size_t len;
  unsigned cp;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
  else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
  else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
  else return 0;
  if (n < len) return 0;
  for (size_t k = 1; k < len; k++) {
    if ((z[k] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (z[k] & 0x3F);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
  return len;
}

/* Reads a string literal at p->i (which is at the opening quote). */
static char *string_lit(parser *p, size_t *len) {
  ml_sb b;
  ml_sb_init(&b);
  p->i++;
  for (;;) {
    if (p->i >= p->n) {
      fail(p, "unterminated string");
      break;
    }
    unsigned char c = (unsigned char)p->z[p->i];
    if (c == '"') {
      p->i++;
      char *s = ml_sb_finish(&b, len);
      if (!s) oom(p);
      return s;
    }
    if (c < 0x20) {
      fail(p, "control character in string");
      break;
    }
    if (c != '\\') {
      size_t ul = utf8_len((const unsigned char *)p->z + p->i, p->n - p->i);
      if (!ul) {
        fail(p, "invalid UTF-8");
        break;
      }
      ml_sb_append(&b, p->z + p->i, ul);
      p->i += ul;
      continue;
    }
    p->i++;
    char e = p->i < p->n ? p->z[p->i++] : 0;
    switch (e) {
      case '"': ml_sb_append(&b, "\"", 1); break;
      case '\\': ml_sb_append(&b, "\\", 1); break;
      case '/': ml_sb_append(&b, "/", 1); break;
      case 'b': ml_sb_append(&b, "\b", 1); break;
      case 'f': ml_sb_append(&b, "\f", 1); break;
      case 'n': ml_sb_append(&b, "\n", 1); break;
      case 'r': ml_sb_append(&b, "\r", 1); break;
      case 't': ml_sb_append(&b, "\t", 1); break;
      case 'u': {
        unsigned cp, lo;
        if (!hex4(p, &cp)) {
          fail(p, "bad \\u escape");
          goto out;
        }
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
          fail(p, "unpaired surrogate");
          goto out;
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (!literal(p, "\\u") || !hex4(p, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
            fail(p, "unpaired surrogate");
            goto out;
          }
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (cp == 0) {
          fail(p, "NUL character in string");
          goto out;
        }
        put_utf8(&b, cp);
        break;
      }
      default:
        fail(p, "bad escape");
        goto out;
    }
  }
out:
  ml_sb_reset(&b);
  return NULL;
}

static ml_json *value(parser *p);

static ml_json *new_node(parser *p, ml_json_type t) {
  ml_json *j = ml_calloc(sizeof *j);
  if (!j) oom(p);
  else j->type = t;
  return j;
}

static ml_json *container(parser *p, int is_object) {
  char close = is_object ? '}' : ']';
  ml_json *j = new_node(p, is_object ? ML_JSON_OBJECT : ML_JSON_ARRAY);
  if (!j) return NULL;
  if (++p->depth > ML_JSON_MAX_DEPTH) {
    fail(p, "nesting too deep");
    return j;
  }
  p->i++;
  ml_json **tail = &j->child;
  skip_ws(p);
  if (p->i < p->n && p->z[p->i] == close) {
    p->i++;
    p->depth--;
    return j;
  }
  for (;;) {
    char *key = NULL;
    if (is_object) {
      skip_ws(p);
      if (p->i >= p->n || p->z[p->i] != '"') {
        fail(p, "expected a string key");
        return j;
      }
      size_t klen;
      key = string_lit(p, &klen);
      if (!key) return j;
      (void)klen;
      if (j->len >= ML_JSON_MAX_MEMBERS) {
        ml_free(key);
        fail(p, "too many members in an object");
        return j;
      }
      if (ml_json_get(j, key)) {
        ml_free(key);
        fail(p, "repeated key");
        return j;
      }
      skip_ws(p);
      if (p->i >= p->n || p->z[p->i] != ':') {
        ml_free(key);
        fail(p, "expected ':'");
        return j;
      }
      p->i++;
    }
    ml_json *v = value(p);
    if (!v) {
      ml_free(key);
      return j;
    }
    v->key = key;
    *tail = v;
    tail = &v->next;
    j->len++;
    if (p->rc) return j;
    skip_ws(p);
    if (p->i < p->n && p->z[p->i] == ',') {
      p->i++;
      continue;
    }
    if (p->i < p->n && p->z[p->i] == close) {
      p->i++;
      p->depth--;
      return j;
    }
    fail(p, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
    return j;
  }
}

static ml_json *value(parser *p) {
  skip_ws(p);
  if (p->i >= p->n) {
    fail(p, "unexpected end of text");
    return NULL;
  }
  char c = p->z[p->i];
  if (c == '{' || c == '[') return container(p, c == '{');
  if (c == '"') {
    size_t len;
    char *s = string_lit(p, &len);
    if (!s) return NULL;
    ml_json *j = new_node(p, ML_JSON_STRING);
    if (!j) {
      ml_free(s);
      return NULL;
    }
    j->str = s;
    j->len = len;
    return j;
  }
  if (literal(p, "true")) return new_node(p, ML_JSON_TRUE);
  if (literal(p, "false")) return new_node(p, ML_JSON_FALSE);
  if (literal(p, "null")) return new_node(p, ML_JSON_NULL);
  if (c == '-' || (c >= '0' && c <= '9')) {
    size_t start = p->i;
    while (p->i < p->n && strchr("+-.eE0123456789", p->z[p->i]) && p->z[p->i]) p->i++;
    double v;
    int rc = ml_parse_double(p->z + start, p->i - start, &v);
    if (rc == -2) {
      oom(p);
      return NULL;
    }
    if (rc) {
      p->i = start;
      fail(p, "bad number");
      return NULL;
    }
    ml_json *j = new_node(p, ML_JSON_NUMBER);
    if (j) j->num = v;
    return j;
  }
  fail(p, "unexpected character");
  return NULL;
}

int ml_json_parse(const char *z, size_t n, ml_json **out, char *err, size_t nerr) {
  parser p = {z, n, 0, 0, 0, err, nerr};
  if (nerr) err[0] = 0;
  *out = NULL;
  ml_json *root = value(&p);
  if (!p.rc) {
    skip_ws(&p);
    if (p.i != p.n) fail(&p, "unexpected text after the value");
  }
  if (p.rc) {
    ml_json_free(root);
    return p.rc;
  }
  *out = root;
  return 0;
}

void ml_json_free(ml_json *j) {
  while (j) {
    ml_json *next = j->next;
    ml_json_free(j->child);
    ml_free(j->str);
    ml_free(j->key);
    ml_free(j);
    j = next;
  }
}

const ml_json *ml_json_get(const ml_json *o, const char *key) {
  if (!o || o->type != ML_JSON_OBJECT) return NULL;
  for (const ml_json *c = o->child; c; c = c->next)
    if (c->key && strcmp(c->key, key) == 0) return c;
  return NULL;
}

const char *ml_json_type_name(ml_json_type t) {
  static const char *names[] = {"null", "false", "true", "number", "string", "array", "object"};
  return names[t];
}
