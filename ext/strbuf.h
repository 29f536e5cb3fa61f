/*
** strbuf.h: a growable text buffer for building JSON and messages, free of
** SQLite (see mem.h).  An allocation failure is sticky: later appends do
** nothing and ml_sb_finish() returns NULL, so callers check once at the end.
*/
#ifndef SQLML_STRBUF_H
#define SQLML_STRBUF_H

#include <stddef.h>

typedef struct ml_sb {
  char *z;      /* NUL-terminated text, or NULL before the first append */
  size_t n;     /* bytes used, not counting the terminator */
  size_t cap;   /* bytes allocated */
  int oom;      /* an allocation failed */
} ml_sb;

void ml_sb_init(ml_sb *b);
void ml_sb_reset(ml_sb *b);                     /* free the text */
void ml_sb_append(ml_sb *b, const char *z, size_t n);
/* Room for extra more bytes (and the terminator): 1, or 0 when out of memory. */
int ml_sb_reserve(ml_sb *b, size_t extra);
void ml_sb_puts(ml_sb *b, const char *z);
void ml_sb_printf(ml_sb *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A JSON string literal, quotes included, escaping as RFC 8259 requires. */
void ml_sb_json_string(ml_sb *b, const char *z, size_t n);
/* A JSON number that reads back as the same double; null for NaN or Inf. */
void ml_sb_json_number(ml_sb *b, double v);
/* Hand the text to the caller (free with ml_free), or NULL after a failure. */
char *ml_sb_finish(ml_sb *b, size_t *len);

/*
** Shortest "%.{15,16,17}g" text of v that reads back as v, with '.' as the
** decimal point whatever the C locale says.  out must hold 32 bytes.
*/
void ml_fmt_double(char *out, double v);

/*
** Read a decimal number (JSON grammar) from z[0..n) into *v; the C locale
** does not matter.  Returns 0, -1 if the text is not a number, or -2 when
** out of memory.
*/
int ml_parse_double(const char *z, size_t n, double *v);

#endif
