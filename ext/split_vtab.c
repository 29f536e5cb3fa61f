/*
** split_vtab.c: the ml_split virtual table, a live, read-only view of a table
** or view with one more column, split ('train' | 'test' | 'valid'), the side
** ml_split_of gives the row's key (see split.h):
**
**   CREATE VIRTUAL TABLE houses_split USING ml_split(houses, test_size=0.2, seed=42);
**   SELECT ml_fit(price, sqft, rooms) FROM houses_split WHERE split = 'train';
**   CREATE VIRTUAL TABLE s3 USING ml_split(events, test_size=0.1, valid_size=0.1,
**                                         seed=7, key=event_id);
**
** Arguments, in any order, each value optionally quoted:
**   source=[schema.]name  the table or view; the one argument that may come
**                         without its name.  Unqualified, it is looked up in
**                         the schema of the split table, or as SQL would look
**                         it up when the split table is in temp.
**   test_size=F           in (0, 1); default 0.2
**   valid_size=F          in [0, 1); default 0; test_size + valid_size < 1
**   seed=N                a 64-bit integer; default 0
**   key=column            the column whose value decides the side; default rowid
**
** Each scan runs one SELECT on the source, so rows inserted later appear.
** The table is DIRECTONLY: it reads the tables it is given, so a schema
** (a trigger or view written by whoever wrote the file) may not use it.
*/
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "split.h"
#include "sqlq.h"

/* How an equality on a source column can be answered at the source. */
enum { COL_SCAN = 0, COL_INDEXED = 1, COL_UNIQUE = 2 };

typedef struct {
  sqlite3_vtab base;
  sqlite3 *db;
  int nCol;             /* columns of the source; split is column nCol */
  char **azCol;         /* their names */
  unsigned char *aHow;  /* COL_* of each */
  int iKey;             /* the key in the source statement: a column, or nCol for the rowid */
  const char *zRowid;   /* a name of the source's rowid that no column hides; NULL if none */
  char *zName;          /* the source's name, for messages */
  char *zKey;           /* the key's name, for messages */
  char *zFrom;          /* FROM "schema"."name" [WHERE rowid <= ...] */
  int bounded;          /* zFrom has a WHERE clause */
  double test, valid;
  int64_t seed;
  uint64_t seeded;      /* ml_split_seeded(seed) */
  int utf8;             /* the database's text is UTF-8 */
} split_vtab;

typedef struct {
  sqlite3_vtab_cursor base;
  sqlite3_stmt *stmt;   /* the source statement, kept across xFilter calls of one plan */
  char *zPlan;          /* the part of idxStr stmt was prepared for */
  int *aMap;            /* the column of stmt that holds each source column, or -1 */
  int iKeyCol, iRowidCol; /* the columns of stmt that hold the key and the rowid (or -1) */
  unsigned keep;        /* bit s set: rows on side s are returned */
  int side;             /* of the current row */
  int eof;
  sqlite3_int64 iRow;   /* rows returned by this scan: the rowid of a source without one */
} split_cursor;

/* SQLite's own guess for a table without statistics (a LogEst of 200). */
#define ROWS_GUESS 1048576.0

/* ---- arguments ---------------------------------------------------------- */

static int split_error(char **pzErr, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = ml_vtab_verror(pzErr, SQLITE_ERROR, "ml_split: ", fmt, ap);
  va_end(ap);
  return rc;
}

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *skip_space(const char *z) {
  while (is_space(*z)) z++;
  return z;
}

static int is_quote(char c) {
  return c == '"' || c == '\'' || c == '`' || c == '[';
}

/*
** One value at *pz: quoted (a doubled quote stands for itself), or bare
** text to the end.  Advances *pz past it and the spaces after it; *out is
** NULL when there is no value or its quote is not closed.
*/
static int value_part(const char **pz, char **out) {
  const char *z = skip_space(*pz);
  *out = NULL;
  if (is_quote(*z)) {
    int rc = ml_unquote(&z, out);
    if (rc || !*out) return rc;
  } else {
    const char *end = z;
    while (*end) end++;
    const char *last = end;
    while (last > z && is_space(last[-1])) last--;
    if (last == z) return SQLITE_OK;
    *out = sqlite3_mprintf("%.*s", (int)(last - z), z);
    z = end;
  }
  if (!*out) return SQLITE_NOMEM;
  *pz = skip_space(z);
  return SQLITE_OK;
}

/* The arguments as written, each value unquoted. */
typedef struct {
  char *source, *test, *valid, *seed, *key;
} split_args;

static void args_free(split_args *a) {
  sqlite3_free(a->source);
  sqlite3_free(a->test);
  sqlite3_free(a->valid);
  sqlite3_free(a->seed);
  sqlite3_free(a->key);
}

/* Sorts argument z into a: "name=value", or the source alone. */
static int parse_arg(const char *z, split_args *a, char **pzErr) {
  static const char *const names[] = {"source", "test_size", "valid_size", "seed", "key"};
  char **slots[] = {&a->source, &a->test, &a->valid, &a->seed, &a->key};
  z = skip_space(z);
  size_t n = 0;
  if (!is_quote(*z))
    while ((z[n] >= 'a' && z[n] <= 'z') || (z[n] >= 'A' && z[n] <= 'Z') || z[n] == '_' ||
           (n > 0 && z[n] >= '0' && z[n] <= '9'))
      n++;
  const char *value = skip_space(z + n);
  int slot = 0; /* the source, when the argument has no name */
  if (n > 0 && *value == '=') {
    for (slot = 0; slot < 5; slot++)
      if (strlen(names[slot]) == n && sqlite3_strnicmp(z, names[slot], (int)n) == 0) break;
    if (slot == 5)
      return split_error(pzErr, "unknown argument '%.*s' (expected source, test_size, "
                                "valid_size, seed or key)", (int)n, z);
    z = skip_space(value + 1);
  }
  if (*slots[slot])
    return split_error(pzErr, "more than one %s argument", slot ? names[slot] : "source");
  /* The source keeps its quotes, for open_source: a dot inside them is not a
  ** schema's.  Other values lose theirs, unless text follows the quote. */
  const char *rest = z;
  char *v = NULL;
  int rc = slot ? value_part(&rest, &v) : SQLITE_OK;
  if (rc) return rc;
  if (v && *rest) {
    sqlite3_free(v);
    v = NULL;
  }
  *slots[slot] = v ? v : sqlite3_mprintf("%s", z);
  return *slots[slot] ? SQLITE_OK : SQLITE_NOMEM;
}

/* A decimal fraction in [0, 1), or (0, 1) when open_lo; -1 otherwise. */
static int parse_fraction(const char *z, int open_lo, double *out) {
  char *end;
  errno = 0;
  double d = strtod(z, &end);
  /* strtod also reads hexadecimal, inf and nan, which no one means here. */
  if (end == z || z + strspn(z, " +-.0123456789eE") < end || *skip_space(end) || errno ||
      !(d < 1) || (open_lo ? !(d > 0) : !(d >= 0)))
    return -1;
  *out = d;
  return 0;
}

static const char *shown(const char *value) {
  return *value ? value : "nothing";
}

static int parse_seed(const char *z, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(z, &end, 10);
  if (end == z || *skip_space(end) || errno) return -1;
  *out = (int64_t)v;
  return 0;
}

/* ---- the source --------------------------------------------------------- */

/* Runs sql with text parameters ?1 and ?2, row() on each row; 0 or an error code. */
static int each_row(split_vtab *t, char **pzErr, const char *sql, const char *p1, const char *p2,
                    int (*row)(split_vtab *, sqlite3_stmt *, void *), void *arg) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(t->db, sql, -1, &st, NULL);
  for (int i = 1; rc == SQLITE_OK && i <= sqlite3_bind_parameter_count(st); i++)
    rc = sqlite3_bind_text(st, i, i == 1 ? p1 : p2, -1, SQLITE_STATIC);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) rc = row(t, st, arg);
  if (rc == SQLITE_DONE) rc = SQLITE_OK;
  if (rc != SQLITE_OK && rc != SQLITE_NOMEM && !*pzErr)
    split_error(pzErr, "reading the schema: %s", sqlite3_errmsg(t->db));
  sqlite3_finalize(st);
  return rc;
}

static int found_encoding(split_vtab *t, sqlite3_stmt *st, void *arg) {
  (void)arg;
  const char *enc = (const char *)sqlite3_column_text(st, 0);
  if (!enc) return SQLITE_NOMEM;
  t->utf8 = sqlite3_stricmp(enc, "UTF-8") == 0;
  return SQLITE_OK;
}

typedef struct {
  sqlite3_str *decl; /* CREATE TABLE x(...) being written */
  int cap;           /* of t->azCol and t->aHow */
  int nPk, iPk;      /* primary key columns, and the last of them */
  int pk_integer;    /* the last is declared INTEGER */
} column_scan;

static int add_column(split_vtab *t, column_scan *cs, const char *name, const char *type,
                      int how, int pk) {
  if (t->nCol == cs->cap) {
    int cap = cs->cap ? 2 * cs->cap : 16;
    char **azCol = sqlite3_realloc64(t->azCol, (sqlite3_uint64)cap * sizeof *azCol);
    if (!azCol) return SQLITE_NOMEM;
    t->azCol = azCol;
    unsigned char *aHow = sqlite3_realloc64(t->aHow, (sqlite3_uint64)cap);
    if (!aHow) return SQLITE_NOMEM;
    t->aHow = aHow;
    cs->cap = cap;
  }
  if (!(t->azCol[t->nCol] = sqlite3_mprintf("%s", name))) return SQLITE_NOMEM;
  t->aHow[t->nCol] = (unsigned char)how;
  if (pk) {
    cs->nPk++;
    cs->iPk = t->nCol;
    cs->pk_integer = sqlite3_stricmp(type, "INTEGER") == 0;
  }
  /* The declared type goes in quoted: SQLite stores it unquoted, as the source has it. */
  sqlite3_str_appendf(cs->decl, *type ? "\"%w\" \"%w\", " : "\"%w\", ", name, type);
  t->nCol++;
  return SQLITE_OK;
}

static int found_column(split_vtab *t, sqlite3_stmt *st, void *arg) {
  const char *name = (const char *)sqlite3_column_text(st, 0);
  const char *type = (const char *)sqlite3_column_text(st, 1);
  if (!name || !type) return SQLITE_NOMEM;
  return add_column(t, arg, name, type, sqlite3_column_int(st, 3), sqlite3_column_int(st, 2));
}

/* The columns of a query source: no index answers an equality on them. */
static int query_columns(split_vtab *t, column_scan *cs, const char *from, char **pzErr) {
  char *sql = sqlite3_mprintf("SELECT * FROM %s", from);
  if (!sql) return SQLITE_NOMEM;
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(t->db, sql, -1, &st, NULL);
  sqlite3_free(sql);
  if (rc == SQLITE_NOMEM) return rc;
  if (rc) return split_error(pzErr, "cannot read the source: %s", sqlite3_errmsg(t->db));
  for (int i = 0; rc == SQLITE_OK && i < sqlite3_column_count(st); i++) {
    const char *name = sqlite3_column_name(st, i), *type = sqlite3_column_decltype(st, i);
    rc = name ? add_column(t, cs, name, type ? type : "", COL_SCAN, 0) : SQLITE_NOMEM;
  }
  sqlite3_finalize(st);
  return rc;
}

/* Which rowid name the source's columns leave visible; NULL if all are hidden. */
static const char *visible_rowid(split_vtab *t) {
  static const char *const names[] = {"rowid", "_rowid_", "oid"};
  for (int k = 0; k < 3; k++) {
    int i = 0;
    while (i < t->nCol && sqlite3_stricmp(t->azCol[i], names[k])) i++;
    if (i == t->nCol) return names[k];
  }
  return NULL;
}

/*
** The source as ml_train takes it (a string is the source's text; anything
** else is that text itself, quotes and all), found unqualified in the split
** table's schema unless that is temp, into *s; *text the unquoted string.
*/
static int find_source(split_vtab *t, const char *vtab_schema, const char *vtab_name,
                       const char *source, ml_source *s, char **text, char **pzErr) {
  char *err = NULL;
  const char *rest = skip_space(source);
  if (*rest == '\'') {
    int rc = value_part(&rest, text);
    if (rc) return rc;
    if (!*text || *rest) return split_error(pzErr, "the source %s is not one string", source);
  }
  int rc = ml_source_open(t->db, "ml_split", *text ? *text : source,
                          sqlite3_stricmp(vtab_schema, "temp") ? vtab_schema : NULL, s, &err);
  if (rc) {
    if (err) {
      sqlite3_free(*pzErr);
      *pzErr = err;
    } else if (rc != SQLITE_NOMEM) {
      split_error(pzErr, "reading the schema: %s", sqlite3_errmsg(t->db));
    }
    return rc;
  }
  if (s->name && sqlite3_stricmp(s->schema, vtab_schema) == 0 &&
      sqlite3_stricmp(s->name, vtab_name) == 0)
    return split_error(pzErr, "source %s is this split table itself", s->name);
  if (!(t->zName = sqlite3_mprintf("%s", s->name ? s->name : *text ? *text : source)))
    return SQLITE_NOMEM;
  return each_row(t, pzErr, "PRAGMA encoding", NULL, NULL, found_encoding, NULL);
}

/*
** The columns SELECT * gives (no hidden ones) into cs, each with how an
** equality on it is answered: by an index it leads (unique when it is the
** whole key of a unique one), or a scan.  Partial indexes cannot answer it.
*/
static int read_columns(split_vtab *t, const ml_source *s, column_scan *cs, char **pzErr) {
  int rc = !s->name ? query_columns(t, cs, s->from, pzErr)
                    : each_row(t, pzErr,
                               "SELECT x.name, x.type, x.pk,"
                               "  (SELECT max(CASE WHEN l.\"unique\" AND"
                               "       (SELECT count(*) FROM pragma_index_info(l.name, ?2)) = 1 THEN 2 ELSE 1 END)"
                               "     FROM pragma_index_list(?1, ?2) AS l, pragma_index_info(l.name, ?2) AS i"
                               "    WHERE l.partial = 0 AND i.seqno = 0 AND i.cid = x.cid)"
                               "  FROM pragma_table_xinfo(?1, ?2) AS x WHERE x.hidden <> 1 ORDER BY x.cid",
                               s->name, s->schema, found_column, cs);
  if (rc) return rc;
  int has_rowid = ml_source_has_rowid(s);
  /* An INTEGER PRIMARY KEY is the rowid, which needs no index. */
  if (has_rowid && cs->nPk == 1 && cs->pk_integer) t->aHow[cs->iPk] = COL_UNIQUE;
  t->zRowid = has_rowid ? visible_rowid(t) : NULL;
  for (int i = 0; i < t->nCol; i++)
    if (sqlite3_stricmp(t->azCol[i], "split") == 0)
      return split_error(pzErr, "source %s already has a column named %s", t->zName, t->azCol[i]);
  return SQLITE_OK;
}

/* The key: a column, or the rowid of a source that has one. */
static int choose_key(split_vtab *t, const ml_source *s, const char *key, char **pzErr) {
  const char *key_name = key ? key : "rowid";
  t->iKey = 0;
  while (t->iKey < t->nCol && sqlite3_stricmp(t->azCol[t->iKey], key_name)) t->iKey++;
  if (t->iKey == t->nCol) {
    if (!ml_is_rowid_name(key_name))
      return split_error(pzErr, "key %s is not a column of %s", key_name, t->zName);
    if (!t->zRowid)
      /* Not a table whose columns hide its rowid: the key would be that column. */
      return split_error(pzErr, "source %s is a %s, which has no rowid: give key=<column>", t->zName,
                         !s->name ? "query" : s->without_rowid ? "WITHOUT ROWID table" : "view");
  }
  return (t->zKey = sqlite3_mprintf("%s", key_name)) ? SQLITE_OK : SQLITE_NOMEM;
}

/*
** The FROM clause of a scan.  SQLite cannot see that a statement reading
** this table reads the source, so INSERT INTO source SELECT ... FROM
** split_table would stream the rows it inserts back into its own scan,
** without end.  A scan of a table therefore stops at the largest rowid
** there was when it started (an index seek, evaluated once).  Views and
** WITHOUT ROWID tables have no such bound; another virtual table might
** scan for max(rowid).
*/
static int scan_from(split_vtab *t, const ml_source *s) {
  sqlite3_str *from = sqlite3_str_new(t->db);
  sqlite3_str_appendf(from, " FROM %s", s->from);
  t->bounded = t->zRowid && sqlite3_stricmp(s->type, "virtual") != 0;
  if (t->bounded)
    sqlite3_str_appendf(from, " WHERE %s <= (SELECT max(%s) FROM %s)", t->zRowid, t->zRowid,
                        s->from);
  t->zFrom = sqlite3_str_finish(from);
  return t->zFrom ? SQLITE_OK : SQLITE_NOMEM;
}

/*
** Finds the source, reads its columns and which of them an index leads,
** chooses the key and declares the table.
*/
static int open_source(split_vtab *t, const char *vtab_schema, const char *vtab_name,
                       const char *source, const char *key, char **pzErr) {
  char *text = NULL, *decl = NULL;
  ml_source s = {0};
  column_scan cs = {0};
  int rc = find_source(t, vtab_schema, vtab_name, source, &s, &text, pzErr);
  if (!rc) {
    cs.decl = sqlite3_str_new(t->db);
    sqlite3_str_appendall(cs.decl, "CREATE TABLE x(");
    rc = read_columns(t, &s, &cs, pzErr);
  }
  if (!rc) rc = choose_key(t, &s, key, pzErr);
  if (!rc) rc = scan_from(t, &s);
  if (!rc) {
    sqlite3_str_appendall(cs.decl, "split TEXT)");
    decl = sqlite3_str_finish(cs.decl);
    cs.decl = NULL;
    rc = decl ? sqlite3_declare_vtab(t->db, decl) : SQLITE_NOMEM;
    if (rc && rc != SQLITE_NOMEM)
      split_error(pzErr, "cannot declare the columns of %s: %s", t->zName, sqlite3_errmsg(t->db));
  }
  sqlite3_free(sqlite3_str_finish(cs.decl));
  sqlite3_free(decl);
  sqlite3_free(text);
  ml_source_free(&s);
  return rc;
}

/* ---- the module --------------------------------------------------------- */

static int split_disconnect(sqlite3_vtab *vt) {
  split_vtab *t = (split_vtab *)vt;
  for (int i = 0; i < t->nCol; i++) sqlite3_free(t->azCol[i]);
  sqlite3_free(t->azCol);
  sqlite3_free(t->aHow);
  sqlite3_free(t->zName);
  sqlite3_free(t->zKey);
  sqlite3_free(t->zFrom);
  sqlite3_free(t);
  return SQLITE_OK;
}

static int split_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                         sqlite3_vtab **ppVtab, char **pzErr) {
  (void)aux;
  *ppVtab = NULL;
  /* pragma_table_list is 3.37, sqlite3_vtab_in 3.38. */
  if (sqlite3_libversion_number() < 3038000)
    return split_error(pzErr, "needs SQLite 3.38 or later, this is %s", sqlite3_libversion());
  split_args a = {0};
  int rc = SQLITE_OK;
  for (int i = 3; rc == SQLITE_OK && i < argc; i++) rc = parse_arg(argv[i], &a, pzErr);
  split_vtab *t = rc ? NULL : sqlite3_malloc64(sizeof *t);
  if (rc) goto done;
  if (!t) {
    rc = SQLITE_NOMEM;
    goto done;
  }
  memset(t, 0, sizeof *t);
  t->db = db;
  t->test = 0.2;
  if (!a.source) {
    rc = split_error(pzErr, "missing the source: ml_split(table, test_size=..., seed=...)");
  } else if (a.test && parse_fraction(a.test, 1, &t->test)) {
    rc = split_error(pzErr, "test_size must be a number in (0, 1), got %s", shown(a.test));
  } else if (a.valid && parse_fraction(a.valid, 0, &t->valid)) {
    rc = split_error(pzErr, "valid_size must be a number in [0, 1), got %s", shown(a.valid));
  } else if (t->test + t->valid >= 1) {
    rc = split_error(pzErr, "test_size + valid_size must be below 1, got %s + %s",
                     a.test ? a.test : "0.2", a.valid);
  } else if (a.seed && parse_seed(a.seed, &t->seed)) {
    rc = split_error(pzErr, "seed must be an integer, got %s", shown(a.seed));
  } else {
    t->seeded = ml_split_seeded(t->seed);
    rc = open_source(t, argv[1], argv[2], a.source, a.key, pzErr);
  }
  if (rc == SQLITE_OK) rc = sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
done:
  args_free(&a);
  if (rc == SQLITE_OK) {
    *ppVtab = &t->base;
  } else if (t) {
    split_disconnect(&t->base);
  }
  return rc;
}

/* Not eponymous: xCreate must differ from xConnect. */
static int split_create(sqlite3 *db, void *aux, int argc, const char *const *argv,
                        sqlite3_vtab **ppVtab, char **pzErr) {
  return split_connect(db, aux, argc, argv, ppVtab, pzErr);
}

/*
** The plan, in idxNum, a bitmask:
**   SPLIT_EQ     split = v or split IS v: keep side v
**   SPLIT_IN     split IN (...): keep the listed sides
**   SPLIT_NE     split != v: keep the other sides (v NULL: none)
**   SPLIT_ISNOT  split IS NOT v: keep the other sides (v NULL: all)
**   PUSHED       equalities on source columns or the rowid go to the source
** At most one SPLIT_* bit: that constraint is applied here as rows stream
** by (SQLite does not check it again), its value the last of xFilter's
** arguments.  The PUSHED ones join the source statement's WHERE clause,
** where the rowid or an index finds the rows; their ?N is xFilter's
** argv[N-1].  SQLite checks them again, since the source may compare with
** its column's collation where this table compares with BINARY.
** idxStr is the plan as a conjunction: the split word, then the source's
** conditions; then, when the statement uses only some of the columns
** (colUsed), the ones the source statement reads, numbered from 0:
**   split=? AND "id"=?1 columns(1,4)
** Nothing else in idxStr ends with ')': conditions end with ?N.
*/
enum { SPLIT_EQ = 1, SPLIT_IN = 2, SPLIT_NE = 4, SPLIT_ISNOT = 8, PUSHED = 16 };

static const char *split_word(int idxNum) {
  switch (idxNum & ~PUSHED) {
    case SPLIT_EQ:
      return "split=?";
    case SPLIT_IN:
      return "split IN ?";
    case SPLIT_NE:
      return "split!=?";
    case SPLIT_ISNOT:
      return "split IS NOT ?";
    default:
      return "";
  }
}

static int binary_collation(sqlite3_index_info *info, int i) {
  const char *coll = sqlite3_vtab_collation(info, i);
  return !coll || sqlite3_stricmp(coll, "BINARY") == 0;
}

static int column_used(sqlite3_index_info *info, int i) {
  return (int)(info->colUsed >> (i < 63 ? i : 63) & 1);
}

static int split_best_index(sqlite3_vtab *vt, sqlite3_index_info *info) {
  split_vtab *t = (split_vtab *)vt;
  int iSplit = -1, idxNum = 0, nArg = 0, how = COL_SCAN;
  for (int i = 0; i < info->nConstraint && iSplit < 0; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    if (!c->usable || c->iColumn != t->nCol || !binary_collation(info, i)) continue;
    switch (c->op) {
      case SQLITE_INDEX_CONSTRAINT_EQ:
      case SQLITE_INDEX_CONSTRAINT_IS:
        idxNum = SPLIT_EQ;
        break;
      case SQLITE_INDEX_CONSTRAINT_NE:
        idxNum = SPLIT_NE;
        break;
      case SQLITE_INDEX_CONSTRAINT_ISNOT:
        idxNum = SPLIT_ISNOT;
        break;
      default:
        continue;
    }
    iSplit = i;
  }
  /* All of an IN list in one scan, rather than one scan per side. */
  if (idxNum == SPLIT_EQ && sqlite3_vtab_in(info, iSplit, -1)) {
    sqlite3_vtab_in(info, iSplit, 1);
    idxNum = SPLIT_IN;
  }
  sqlite3_str *plan = sqlite3_str_new(t->db);
  sqlite3_str_appendall(plan, split_word(idxNum));
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    if (!c->usable || c->op != SQLITE_INDEX_CONSTRAINT_EQ || c->iColumn >= t->nCol) continue;
    if (c->iColumn < 0 ? !t->zRowid : !binary_collation(info, i)) continue;
    info->aConstraintUsage[i].argvIndex = ++nArg;
    if (nArg > 1 || idxNum) sqlite3_str_appendall(plan, " AND ");
    if (c->iColumn < 0)
      sqlite3_str_appendf(plan, "%s=?%d", t->zRowid, nArg);
    else
      sqlite3_str_appendf(plan, "\"%w\"=?%d", t->azCol[c->iColumn], nArg);
    int h = c->iColumn < 0 ? COL_UNIQUE : t->aHow[c->iColumn];
    if (h > how) how = h;
  }
  if (nArg) idxNum |= PUSHED;
  /* Decoding a column SQLite will not ask for costs as much as returning it. */
  int some = 0;
  for (int i = 0; i < t->nCol && !some; i++) some = !column_used(info, i) && i != t->iKey;
  if (some) {
    sqlite3_str_appendall(plan, sqlite3_str_length(plan) ? " columns(" : "columns(");
    for (int i = 0, n = 0; i < t->nCol; i++)
      if (column_used(info, i) || i == t->iKey) sqlite3_str_appendf(plan, n++ ? ",%d" : "%d", i);
    sqlite3_str_appendall(plan, ")");
  }
  if (iSplit >= 0) {
    info->aConstraintUsage[iSplit].argvIndex = ++nArg;
    info->aConstraintUsage[iSplit].omit = 1;
  }
  int rc = sqlite3_str_errcode(plan);
  char *zPlan = sqlite3_str_finish(plan);
  if (rc) {
    sqlite3_free(zPlan);
    return rc;
  }
  info->idxNum = idxNum;
  info->idxStr = zPlan;
  info->needToFreeIdxStr = 1;
  /* Reading costs a row per row read; returning one through xColumn as much again. */
  double rows = how == COL_UNIQUE    ? 1
                : how == COL_INDEXED ? 10
                : nArg               ? ROWS_GUESS / 10
                                     : ROWS_GUESS;
  double read = how == COL_SCAN ? ROWS_GUESS : 20 + rows;
  if (idxNum & ~PUSHED) rows = rows > 2 ? rows / 2 : 1;
  info->estimatedRows = (sqlite3_int64)rows;
  info->estimatedCost = read + rows;
  if (how == COL_UNIQUE) info->idxFlags |= SQLITE_INDEX_SCAN_UNIQUE;
  return SQLITE_OK;
}

static int split_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **ppCur) {
  split_vtab *t = (split_vtab *)vt;
  split_cursor *c = sqlite3_malloc64(sizeof *c + (sqlite3_uint64)t->nCol * sizeof(int));
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  c->aMap = (int *)(c + 1);
  *ppCur = &c->base;
  return SQLITE_OK;
}

static int split_close(sqlite3_vtab_cursor *cur) {
  split_cursor *c = (split_cursor *)cur;
  sqlite3_finalize(c->stmt);
  sqlite3_free(c->zPlan);
  sqlite3_free(c);
  return SQLITE_OK;
}

/* The cursor's error, under "ml_split: " unless it names its function already. */
static int cursor_error(split_cursor *c, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *body = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  if (!body) return ml_vtab_msg(&c->base.pVtab->zErrMsg, rc, NULL);
  rc = ml_vtab_error(&c->base.pVtab->zErrMsg, rc, ml_is_own_error(body) ? "%s" : "ml_split: %s", body);
  sqlite3_free(body);
  return rc;
}

static int split_next(sqlite3_vtab_cursor *cur) {
  split_cursor *c = (split_cursor *)cur;
  split_vtab *t = (split_vtab *)cur->pVtab;
  for (;;) {
    if (ml_nest_enter()) return cursor_error(c, SQLITE_ERROR, "%s", ML_NEST_MSG);
    int rc = sqlite3_step(c->stmt);
    ml_nest_leave();
    if (rc == SQLITE_DONE) {
      c->eof = 1;
      return sqlite3_reset(c->stmt);
    }
    if (rc != SQLITE_ROW && ml_is_own_error(sqlite3_errmsg(t->db)))
      return cursor_error(c, rc, "%s", sqlite3_errmsg(t->db));
    if (rc != SQLITE_ROW)
      return cursor_error(c, rc, "reading %s: %s", t->zName, sqlite3_errmsg(t->db));
    /* An unprotected value, which is safe here: this thread holds the
    ** connection's mutex for the whole of the outer statement's step. */
    double u;
    switch (ml_split_u_seeded(t->seeded, sqlite3_column_value(c->stmt, c->iKeyCol), &u)) {
      case 0:
        break;
      case ML_SPLIT_NULL_KEY:
        if (c->iRowidCol >= 0)
          return cursor_error(c, SQLITE_ERROR, "key %s is NULL in the row of %s with rowid %lld; "
                              "a NULL key has no side", t->zKey, t->zName,
                              sqlite3_column_int64(c->stmt, c->iRowidCol));
        return cursor_error(c, SQLITE_ERROR,
                            "key %s is NULL in a row of %s; a NULL key has no side", t->zKey,
                            t->zName);
      default:
        return SQLITE_NOMEM;
    }
    c->side = ml_split_side(u, t->test, t->valid);
    if (c->keep >> c->side & 1) {
      c->iRow++;
      return SQLITE_OK;
    }
  }
}

/* The bit of the side v names, 0 when it names none. */
static unsigned side_bit(sqlite3_value *v) {
  if (sqlite3_value_type(v) != SQLITE_TEXT) return 0;
  const char *z = (const char *)sqlite3_value_text(v);
  for (int s = 0; z && s < 3; s++)
    if (strcmp(z, ml_side_name[s]) == 0 && (size_t)sqlite3_value_bytes(v) == strlen(z))
      return 1u << s;
  return 0;
}

/* Prepares the source statement for plan, idxStr after the split word. */
static int prepare_source(split_cursor *c, const char *plan) {
  split_vtab *t = (split_vtab *)c->base.pVtab;
  sqlite3_finalize(c->stmt);
  c->stmt = NULL;
  sqlite3_free(c->zPlan);
  if (!(c->zPlan = sqlite3_mprintf("%s", plan))) return SQLITE_NOMEM;

  size_t n = strlen(plan);
  const char *cols = NULL;
  if (n && plan[n - 1] == ')')
    for (const char *p = strstr(plan, "columns("); p; p = strstr(p + 1, "columns(")) cols = p;
  const char *conds = strncmp(plan, " AND ", 5) ? plan : plan + 5;
  size_t nConds = cols ? (size_t)(cols - conds) : strlen(conds);
  while (nConds && conds[nConds - 1] == ' ') nConds--;

  for (int i = 0; i < t->nCol; i++) c->aMap[i] = cols ? -1 : 0;
  if (cols) {
    const char *p = cols + strlen("columns(");
    for (char *end; *p != ')'; p = *end == ',' ? end + 1 : end) {
      long i = strtol(p, &end, 10);
      if (end == p || i < 0 || i >= t->nCol) return SQLITE_INTERNAL;
      c->aMap[i] = 0;
    }
  }
  if (t->iKey < t->nCol) c->aMap[t->iKey] = 0;

  sqlite3_str *sql = sqlite3_str_new(t->db);
  sqlite3_str_appendall(sql, "SELECT ");
  int k = 0;
  for (int i = 0; i < t->nCol; i++)
    if (c->aMap[i] == 0) {
      sqlite3_str_appendf(sql, k ? ", \"%w\"" : "\"%w\"", t->azCol[i]);
      c->aMap[i] = k++;
    }
  c->iRowidCol = -1;
  if (t->zRowid) {
    sqlite3_str_appendf(sql, k ? ", %s" : "%s", t->zRowid);
    c->iRowidCol = k++;
  }
  c->iKeyCol = t->iKey < t->nCol ? c->aMap[t->iKey] : c->iRowidCol;
  sqlite3_str_appendall(sql, t->zFrom);
  if (nConds)
    sqlite3_str_appendf(sql, "%s%.*s", t->bounded ? " AND " : " WHERE ", (int)nConds, conds);
  int rc = sqlite3_str_errcode(sql);
  char *zSql = sqlite3_str_finish(sql);
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(t->db, zSql, -1, &c->stmt, NULL);
  sqlite3_free(zSql);
  return rc;
}

static int split_filter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc,
                        sqlite3_value **argv) {
  split_cursor *c = (split_cursor *)cur;
  split_vtab *t = (split_vtab *)cur->pVtab;
  const unsigned all = 7;
  sqlite3_value *v = (idxNum & ~PUSHED) ? argv[argc - 1] : NULL;
  int rc = SQLITE_OK;
  switch (idxNum & ~PUSHED) {
    case SPLIT_EQ:
      c->keep = side_bit(v);
      break;
    case SPLIT_IN: {
      sqlite3_value *e;
      c->keep = 0;
      for (rc = sqlite3_vtab_in_first(v, &e); rc == SQLITE_OK && e;
           rc = sqlite3_vtab_in_next(v, &e))
        c->keep |= side_bit(e);
      if (rc != SQLITE_OK && rc != SQLITE_DONE) return rc;
      break;
    }
    case SPLIT_NE:
      c->keep = sqlite3_value_type(v) == SQLITE_NULL ? 0 : all & ~side_bit(v);
      break;
    case SPLIT_ISNOT:
      c->keep = all & ~side_bit(v);
      break;
    default:
      c->keep = all;
  }
  c->iRow = 0;
  c->eof = !c->keep;
  if (c->eof) return SQLITE_OK;

  /* The statement depends on the rest of idxStr only. */
  const char *plan = idxStr ? idxStr + strlen(split_word(idxNum)) : "";
  if (c->stmt && strcmp(c->zPlan, plan) == 0) {
    rc = sqlite3_reset(c->stmt);
  } else {
    rc = prepare_source(c, plan);
  }
  int nPushed = (idxNum & PUSHED) ? argc - ((idxNum & ~PUSHED) ? 1 : 0) : 0;
  for (int i = 0; rc == SQLITE_OK && i < nPushed; i++)
    rc = sqlite3_bind_value(c->stmt, i + 1, argv[i]);
  if (rc == SQLITE_NOMEM) return rc;
  if (rc) return cursor_error(c, rc, "reading %s: %s", t->zName, sqlite3_errmsg(t->db));
  return split_next(cur);
}

static int split_eof(sqlite3_vtab_cursor *cur) {
  return ((split_cursor *)cur)->eof;
}

static int split_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i) {
  split_cursor *c = (split_cursor *)cur;
  split_vtab *t = (split_vtab *)cur->pVtab;
  if (i == t->nCol) {
    sqlite3_result_text(ctx, ml_side_name[c->side], -1, SQLITE_STATIC);
    return SQLITE_OK;
  }
  if (c->aMap[i] < 0)
    return cursor_error(c, SQLITE_INTERNAL, "column %s was not read: colUsed did not list it",
                        t->azCol[i]);
  /* Not sqlite3_result_value: it copies a string into a fresh allocation
  ** on every row, where a TRANSIENT result reuses the register's buffer. */
  sqlite3_value *v = sqlite3_column_value(c->stmt, c->aMap[i]);
  switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
      sqlite3_result_int64(ctx, sqlite3_value_int64(v));
      break;
    case SQLITE_FLOAT:
      sqlite3_result_double(ctx, sqlite3_value_double(v));
      break;
    case SQLITE_TEXT: {
      /* Text read from a record is not NUL-terminated, and sqlite3_value_text
      ** would reallocate to terminate it: the bytes as a blob are the same
      ** UTF-8, as they are.  Other encodings need the conversion. */
      const char *z = t->utf8 ? sqlite3_value_blob(v) : (const char *)sqlite3_value_text(v);
      int n = sqlite3_value_bytes(v);
      if (!z && n) return SQLITE_NOMEM;
      sqlite3_result_text(ctx, z ? z : "", n, SQLITE_TRANSIENT);
      break;
    }
    case SQLITE_BLOB: {
      const void *z = sqlite3_value_blob(v);
      int n = sqlite3_value_bytes(v);
      if (!z && n) return SQLITE_NOMEM;
      sqlite3_result_blob(ctx, z, n, SQLITE_TRANSIENT);
      break;
    }
    default:
      sqlite3_result_null(ctx);
  }
  return SQLITE_OK;
}

static int split_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *pRowid) {
  split_cursor *c = (split_cursor *)cur;
  *pRowid = c->iRowidCol >= 0 ? sqlite3_column_int64(c->stmt, c->iRowidCol) : c->iRow;
  return SQLITE_OK;
}

/* No xUpdate: INSERT, UPDATE and DELETE fail as they are prepared. */
static sqlite3_module split_module = {
    .xCreate = split_create,
    .xConnect = split_connect,
    .xBestIndex = split_best_index,
    .xDisconnect = split_disconnect,
    .xDestroy = split_disconnect,
    .xOpen = split_open,
    .xClose = split_close,
    .xFilter = split_filter,
    .xNext = split_next,
    .xEof = split_eof,
    .xColumn = split_column,
    .xRowid = split_rowid,
};

int ml_split_register(sqlite3 *db) {
  return sqlite3_create_module_v2(db, "ml_split", &split_module, NULL, NULL);
}
