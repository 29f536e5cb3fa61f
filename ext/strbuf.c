/*
** strbuf.c: growable text buffer, JSON string and number output, and
** locale-independent number conversion.  See strbuf.h.
*/
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "strbuf.h"

void ml_sb_init(ml_sb *b) { memset(b, 0, sizeof *b); }

void ml_sb_reset(ml_sb *b) {
  ml_free(b->z);
  ml_sb_init(b);
}

int ml_sb_reserve(ml_sb *b, size_t extra) {
  if (b->oom) return 0;
  if (b->n + extra + 1 <= b->cap) return 1;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->n + extra + 1) cap *= 2;
  char *z = ml_realloc(b->z, cap);
  if (!z) {
    b->oom = 1;
    return 0;
  }
  b->z = z;
  b->cap = cap;
  return 1;
}

void ml_sb_append(ml_sb *b, const char *z, size_t n) {
  if (!ml_sb_reserve(b, n)) return;
  memcpy(b->z + b->n, z, n);
  b->n += n;
  b->z[b->n] = 0;
}

void ml_sb_puts(ml_sb *b, const char *z) { ml_sb_append(b, z, strlen(z)); }

void ml_sb_printf(ml_sb *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char small[256];
  int len = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (len < 0) {
    b->oom = 1;
    return;
  }
  if ((size_t)len < sizeof small) {
    ml_sb_append(b, small, (size_t)len);
    return;
  }
  if (!ml_sb_reserve(b, (size_t)len)) return;
  va_start(ap, fmt);
  vsnprintf(b->z + b->n, (size_t)len + 1, fmt, ap);
  va_end(ap);
  b->n += (size_t)len;
}

void ml_sb_json_string(ml_sb *b, const char *z, size_t n) {
  static const char hex[] = "0123456789abcdef";
  ml_sb_append(b, "\"", 1);
  size_t start = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)z[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    ml_sb_append(b, z + start, i - start);
    start = i + 1;
    char esc[7] = {'\\', 0};
    switch (c) {
      case '"': esc[1] = '"'; break;
      case '\\': esc[1] = '\\'; break;
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      case '\b': esc[1] = 'b'; break;
      case '\f': esc[1] = 'f'; break;
      default:
        memcpy(esc, "\\u00", 4);
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
        ml_sb_append(b, esc, 6);
        continue;
    }
    ml_sb_append(b, esc, 2);
  }
  ml_sb_append(b, z + start, n - start);
  ml_sb_append(b, "\"", 1);
}

void ml_sb_json_number(ml_sb *b, double v) {
  if (!isfinite(v)) {
    ml_sb_append(b, "null", 4);
    return;
  }
  char buf[32];
  ml_fmt_double(buf, v);
  ml_sb_puts(b, buf);
}

char *ml_sb_finish(ml_sb *b, size_t *len) {
  if (b->oom) {
    ml_sb_reset(b);
    return NULL;
  }
  if (!b->z && !ml_sb_reserve(b, 0)) return NULL;
  if (b->n == 0) b->z[0] = 0;
  char *z = b->z;
  if (len) *len = b->n;
  ml_sb_init(b);
  return z;
}

/* The C library formats and parses numbers with the locale's decimal point;
** JSON and SQL always use '.'.  These two translate between them. */
static const char *locale_point(void) {
  const char *dp = localeconv()->decimal_point;
  return (dp && dp[0]) ? dp : ".";
}

void ml_fmt_double(char *out, double v) {
  char tmp[64];
  const char *dp = locale_point();
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    if (prec == 17 || strtod(tmp, NULL) == v) break;
  }
  size_t dpl = strlen(dp);
  char *s = strstr(tmp, dp);
  size_t o = 0;
  for (char *p = tmp; *p && o < 31;) {
    if (p == s) {
      out[o++] = '.';
      p += dpl;
    } else {
      out[o++] = *p++;
    }
  }
  out[o] = 0;
}

int ml_parse_double(const char *z, size_t n, double *v) {
  size_t i = 0;
  if (i < n && z[i] == '-') i++;
  if (i >= n) return -1;
  if (z[i] == '0') {
    i++;
  } else if (z[i] >= '1' && z[i] <= '9') {
    while (i < n && z[i] >= '0' && z[i] <= '9') i++;
  } else {
    return -1;
  }
  size_t point = n;
  if (i < n && z[i] == '.') {
    point = i++;
    if (i >= n || z[i] < '0' || z[i] > '9') return -1;
    while (i < n && z[i] >= '0' && z[i] <= '9') i++;
  }
  if (i < n && (z[i] == 'e' || z[i] == 'E')) {
    i++;
    if (i < n && (z[i] == '+' || z[i] == '-')) i++;
    if (i >= n || z[i] < '0' || z[i] > '9') return -1;
    while (i < n && z[i] >= '0' && z[i] <= '9') i++;
  }
  if (i != n) return -1;

  const char *dp = locale_point();
  size_t dpl = strlen(dp);
  char small[128];
  char *buf = small;
  if (n + dpl + 1 > sizeof small) {
    buf = ml_malloc(n + dpl + 1);
    if (!buf) return -2;
  }
  size_t o = 0;
  for (size_t j = 0; j < n; j++) {
    if (j == point) {
      memcpy(buf + o, dp, dpl);
      o += dpl;
    } else {
      buf[o++] = z[j];
    }
  }
  buf[o] = 0;
  *v = strtod(buf, NULL);
  if (buf != small) ml_free(buf);
  return 0;
}
