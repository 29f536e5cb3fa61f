/*
** json.h: a small strict JSON reader for options and feature lists, free of
** SQLite (see mem.h).  It builds a tree; objects keep their members in order
** and a repeated key is an error, so a typo can never hide behind a later
** value.  Nesting is limited to ML_JSON_MAX_DEPTH and an object to
** ML_JSON_MAX_MEMBERS members (keys are checked for repeats one by one).
*/
#ifndef SQLML_JSON_H
#define SQLML_JSON_H

#include <stddef.h>

#define ML_JSON_MAX_DEPTH 32
#define ML_JSON_MAX_MEMBERS 1000

typedef enum {
  ML_JSON_NULL,
  ML_JSON_FALSE,
  ML_JSON_TRUE,
  ML_JSON_NUMBER,
  ML_JSON_STRING,
  ML_JSON_ARRAY,
  ML_JSON_OBJECT
} ml_json_type;

typedef struct ml_json ml_json;
struct ml_json {
  ml_json_type type;
  double num;          /* ML_JSON_NUMBER */
  char *str;           /* ML_JSON_STRING: decoded UTF-8, NUL-terminated */
  size_t len;          /* ML_JSON_STRING: bytes; ARRAY/OBJECT: members */
  char *key;           /* member name, when the parent is an object */
  ml_json *child;      /* first member of an array or object */
  ml_json *next;       /* next member of the parent */
};

/*
** Parse z[0..n).  On success *out is the root (free with ml_json_free) and 0
** is returned.  On a syntax error -1 is returned and err holds a message such
** as "expected ',' or '}' at offset 12"; -2 means out of memory.
*/
int ml_json_parse(const char *z, size_t n, ml_json **out, char *err, size_t nerr);
void ml_json_free(ml_json *j);

/* The member of object o named key, or NULL. */
const ml_json *ml_json_get(const ml_json *o, const char *key);

/* "object", "array", "string", "number", "true", "false" or "null". */
const char *ml_json_type_name(ml_json_type t);

#endif
