/*
** predict.c: ml_predict, ml_model_json, and the per-connection model cache.
**
**   SELECT ml_predict(model, x1, ..., xk) FROM t;  -- NULL if an x is NULL
**   SELECT ml_model_json(model [, level]);         -- coefficients and statistics
**   SELECT ml_predict_interval(model, level, x1, ..., xk);  -- fit and intervals
**
** A model argument is a BLOB or a registry reference ('name', 'name@2',
** 'name@alias'), decoded once, not once per row.  When the argument is a
** constant, SQLite keeps our decoded model with the statement (auxdata) and a
** row costs one pointer lookup and a dot product.  When it is not (a scalar
** subquery, a column), the connection's cache recognizes the same bytes with
** a memcmp, or the same reference while the registry is unchanged, and
** hands back the model it decoded before.
**
** A reference means what the registry holds as this connection sees it
** now, committed or not.  The cache keeps a reference's model with the
** registry's mark (registry.h: the data version, which any commit moves,
** and the connection's change count, which its own writes move even when a
** ROLLBACK undoes them).  Inside a write transaction on main neither number
** says what the transaction has changed, so there every lookup is made
** afresh (a constant reference still once per statement, by auxdata).  No
** commit or rollback hook: an application may own them, and they do not
** chain.
**
** Checking a reference costs a read transaction on main when the calling
** statement holds none (SELECT ml_predict('m', ?) reads no table): a
** statement stepped to open it.  Preparing that statement for every call
** cost four fifths of such a prediction, so the connection keeps it
** prepared.  A statement kept past a call must be finalized before the
** connection closes, or sqlite3_close() refuses (SQLITE_BUSY) and
** sqlite3_close_v2() never frees it; SQLite's only hook that runs before
** that check is a virtual table's xDisconnect.  So the statement belongs to
** the eponymous table ml_model_cache, which also lists the cached models:
**
**   SELECT ref, bytes FROM ml_model_cache;  -- ref NULL: a model from a BLOB
**
** When that table cannot be connected (a table of the same name in the
** database hides it), the statement is prepared for each call, as before.
*/
#include <stdio.h>
#include <string.h>

#include <lapacke.h>

#include "blas_lock.h"
#include "dist.h"
#include "filemark.h"
#include "glm.h"
#include "registry.h"
#include "strbuf.h"
#include "sqlml_int.h"

/*
** The cache: decoded models in a hash by their BLOB's bytes (the bucket by
** the BLOB's own CRC, its last four bytes; a hit compares every byte), and
** references in a hash by their text, each pointing to a cached model.
** Both are bounded by one budget per connection: when the models charged
** to it pass CACHE_BUDGET, the least recently used go, with the references
** resolved to them.  A model is charged its BLOB twice (the copy kept as
** its key, and the decoded model, which holds the same numbers and names),
** its scratch row and the texts of its references: an estimate, within a
** small factor of the heap it holds.  The newest model stays even when it
** alone is over the budget.  Statements hold their own references to the
** models they use (auxdata), so an evicted model lives until they end.
*/
#define CACHE_BUDGET ((size_t)16 << 20)

typedef struct named_model named_model;

/*
** A decoded model, shared by the cache and statements' auxdata.  Only its
** connection uses it, one call at a time, so x is scratch space for any
** call: no row allocates.
*/
typedef struct shared_model {
  int refs;
  ml_model *m;
  unsigned char *key;      /* the BLOB it was decoded from */
  int nkey;
  sqlite3_context *owner;  /* last call site given it as auxdata */
  int numeric;             /* every feature is numeric: one term per argument */
  double *x;               /* scratch: a design row, p, and its solve, p */
  double tq_level, tq;     /* the last t-quantile ml_predict_interval() needed */
  /* While cached (the cache holds one reference): */
  int cached;
  uint32_t hash;
  size_t bytes;                         /* charged to the budget */
  struct shared_model *next;            /* in its bucket */
  struct shared_model *older, *newer;   /* in the connection's LRU order */
  named_model *names;                   /* the references resolved to it */
} shared_model;

/* A reference resolved to a cached model, valid while the registry's mark holds. */
struct named_model {
  char *ref;
  uint32_t hash;
  shared_model *s;
  ml_registry_mark mark;
  ml_file_mark trace;     /* main's commit trace before the lookup that found it valid (filemark.h) */
  named_model *next;      /* in its bucket */
  named_model *next_of_s; /* the other references resolved to s */
};

typedef struct cache_hash {
  void **bucket; /* shared_model * or named_model *, by hash & (n - 1) */
  unsigned n, count;
} cache_hash;

struct ml_conn {
  int refs;                      /* functions and the module registered with it */
  cache_hash models, names;
  shared_model *newest, *oldest;
  size_t bytes;                  /* charged to CACHE_BUDGET */
  ml_registry_seen seen;         /* the registry's objects are sqlml's */
  int cache_table;               /* 0: not tried, 1: connected, -1: unavailable */
  int lookups;                   /* reads of the registry that needed a hold (counted to 2) */
  sqlite3_stmt *hold;            /* kept while the cache table is connected */
  ml_file_watch watch;           /* where main's commit trace is read, once looked for */
};

static void shared_unref(void *p) {
  shared_model *s = p;
  if (!s || --s->refs > 0) return;
  ml_model_free(s->m);
  sqlite3_free(s->key);
  sqlite3_free(s->x);
  sqlite3_free(s);
}

static uint32_t text_hash(const char *z) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; *z; z++) h = (h ^ (unsigned char)*z) * 16777619u;
  return h;
}

static uint32_t blob_hash(const unsigned char *z, int n) {
  if (n < 4) return (uint32_t)n;
  return (uint32_t)z[n - 4] | (uint32_t)z[n - 3] << 8 | (uint32_t)z[n - 2] << 16 |
         (uint32_t)z[n - 1] << 24;
}

/* Room for one more entry: doubles the buckets as entries pass their number.
** Out of memory, the table stays as it is (longer chains, same answers). */
static void hash_grow(cache_hash *h, int is_names) {
  if (h->count < h->n) return;
  unsigned n = h->n ? 2 * h->n : 64;
  void **b = sqlite3_malloc64(sizeof(void *) * (sqlite3_uint64)n);
  if (!b) return;
  memset(b, 0, sizeof(void *) * n);
  for (unsigned i = 0; i < h->n; i++) {
    void *e = h->bucket[i];
    while (e) {
      void *next;
      uint32_t hash;
      if (is_names) {
        next = ((named_model *)e)->next;
        hash = ((named_model *)e)->hash;
        ((named_model *)e)->next = b[hash & (n - 1)];
      } else {
        next = ((shared_model *)e)->next;
        hash = ((shared_model *)e)->hash;
        ((shared_model *)e)->next = b[hash & (n - 1)];
      }
      b[hash & (n - 1)] = e;
      e = next;
    }
  }
  sqlite3_free(h->bucket);
  h->bucket = b;
  h->n = n;
}

static void name_unlink(ml_conn *c, named_model *e) {
  named_model **pp = (named_model **)&c->names.bucket[e->hash & (c->names.n - 1)];
  while (*pp != e) pp = &(*pp)->next;
  *pp = e->next;
  c->names.count--;
  for (pp = &e->s->names; *pp != e; pp = &(*pp)->next_of_s) {}
  *pp = e->next_of_s;
  e->s->bytes -= sizeof *e + strlen(e->ref) + 1;
  c->bytes -= sizeof *e + strlen(e->ref) + 1;
  sqlite3_free(e->ref);
  sqlite3_free(e);
}

static void lru_unlink(ml_conn *c, shared_model *s) {
  if (s->newer) s->newer->older = s->older;
  else c->newest = s->older;
  if (s->older) s->older->newer = s->newer;
  else c->oldest = s->newer;
  s->older = s->newer = NULL;
}

static void lru_push(ml_conn *c, shared_model *s) {
  s->older = c->newest;
  s->newer = NULL;
  if (c->newest) c->newest->newer = s;
  else c->oldest = s;
  c->newest = s;
}

static void lru_touch(ml_conn *c, shared_model *s) {
  if (c->newest == s) return;
  lru_unlink(c, s);
  lru_push(c, s);
}

/* Takes s out of the cache, with the references resolved to it. */
static void model_evict(ml_conn *c, shared_model *s) {
  while (s->names) name_unlink(c, s->names);
  shared_model **pp = (shared_model **)&c->models.bucket[s->hash & (c->models.n - 1)];
  while (*pp != s) pp = &(*pp)->next;
  *pp = s->next;
  c->models.count--;
  lru_unlink(c, s);
  c->bytes -= s->bytes;
  s->cached = 0;
  shared_unref(s);
}

/* Evicts the least recently used models while the cache is over its budget. */
static void cache_trim(ml_conn *c) {
  while (c->bytes > CACHE_BUDGET && c->oldest && c->oldest != c->newest) model_evict(c, c->oldest);
}

ml_conn *ml_conn_new(void) {
  ml_conn *c = sqlite3_malloc(sizeof *c);
  if (c) memset(c, 0, sizeof *c);
  return c;
}

void ml_conn_ref(ml_conn *c) { c->refs++; }

ml_registry_seen *ml_conn_registry_seen(ml_conn *c) { return &c->seen; }

void ml_conn_unref(void *p) {
  ml_conn *c = p;
  if (!c || --c->refs > 0) return;
  while (c->oldest) model_evict(c, c->oldest);
  sqlite3_free(c->models.bucket);
  sqlite3_free(c->names.bucket);
  sqlite3_finalize(c->hold);
  sqlite3_free(c);
}

/* ---- ml_model_cache: the cached models, and the owner of kept statements ---- */

typedef struct cache_vtab {
  sqlite3_vtab base;
  ml_conn *conn;
} cache_vtab;

/* A copy of the cache's rows, taken by xFilter: predictions in the same
** statement may change the cache while the cursor walks it. */
typedef struct cache_row {
  char *ref; /* NULL: the model's BLOB */
  sqlite3_int64 bytes;
} cache_row;

typedef struct cache_cursor {
  sqlite3_vtab_cursor base;
  cache_row *rows;
  int n, i;
} cache_cursor;

static int cache_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                         sqlite3_vtab **out, char **err) {
  (void)argc;
  (void)argv;
  (void)err;
  int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(ref TEXT, bytes INTEGER)");
  if (rc != SQLITE_OK) return rc;
  cache_vtab *t = sqlite3_malloc(sizeof *t);
  if (!t) return SQLITE_NOMEM;
  memset(t, 0, sizeof *t);
  t->conn = aux;
  ml_conn_ref(t->conn);
  t->conn->cache_table = 1;
  *out = &t->base;
  return SQLITE_OK;
}

/* Runs before sqlite3_close() looks for unfinalized statements. */
static int cache_disconnect(sqlite3_vtab *vt) {
  cache_vtab *t = (cache_vtab *)vt;
  sqlite3_finalize(t->conn->hold);
  t->conn->hold = NULL;
  t->conn->cache_table = -1;
  ml_conn_unref(t->conn);
  sqlite3_free(t);
  return SQLITE_OK;
}

static int cache_best_index(sqlite3_vtab *vt, sqlite3_index_info *info) {
  (void)vt;
  info->estimatedCost = 100;
  return SQLITE_OK;
}

static int cache_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
  (void)vt;
  cache_cursor *cur = sqlite3_malloc(sizeof *cur);
  if (!cur) return SQLITE_NOMEM;
  memset(cur, 0, sizeof *cur);
  *out = &cur->base;
  return SQLITE_OK;
}

static void cache_rows_free(cache_cursor *cur) {
  for (int i = 0; i < cur->n; i++) sqlite3_free(cur->rows[i].ref);
  sqlite3_free(cur->rows);
  cur->rows = NULL;
  cur->n = cur->i = 0;
}

static int cache_close(sqlite3_vtab_cursor *cur) {
  cache_rows_free((cache_cursor *)cur);
  sqlite3_free(cur);
  return SQLITE_OK;
}

/* Rows: each model, most recently used first, then the references resolved to it. */
static int cache_filter(sqlite3_vtab_cursor *vcur, int idx, const char *idxs, int argc,
                        sqlite3_value **argv) {
  (void)idx;
  (void)idxs;
  (void)argc;
  (void)argv;
  cache_cursor *cur = (cache_cursor *)vcur;
  ml_conn *c = ((cache_vtab *)vcur->pVtab)->conn;
  cache_rows_free(cur);
  sqlite3_uint64 n = (sqlite3_uint64)c->models.count + c->names.count;
  cur->rows = sqlite3_malloc64(sizeof(cache_row) * (n ? n : 1));
  if (!cur->rows) return SQLITE_NOMEM;
  for (shared_model *s = c->newest; s; s = s->older) {
    cur->rows[cur->n++] = (cache_row){NULL, (sqlite3_int64)s->bytes};
    for (named_model *e = s->names; e; e = e->next_of_s) {
      char *ref = sqlite3_mprintf("%s", e->ref);
      if (!ref) return SQLITE_NOMEM;
      cur->rows[cur->n++] = (cache_row){ref, (sqlite3_int64)(sizeof *e + strlen(e->ref) + 1)};
    }
  }
  return SQLITE_OK;
}

static int cache_next(sqlite3_vtab_cursor *cur) {
  ((cache_cursor *)cur)->i++;
  return SQLITE_OK;
}

static int cache_eof(sqlite3_vtab_cursor *vcur) {
  cache_cursor *cur = (cache_cursor *)vcur;
  return cur->i >= cur->n;
}

static int cache_column(sqlite3_vtab_cursor *vcur, sqlite3_context *ctx, int col) {
  cache_cursor *cur = (cache_cursor *)vcur;
  cache_row *r = &cur->rows[cur->i];
  if (col == 0 && r->ref) sqlite3_result_text(ctx, r->ref, -1, SQLITE_TRANSIENT);
  if (col == 1) sqlite3_result_int64(ctx, r->bytes);
  return SQLITE_OK;
}

static int cache_rowid(sqlite3_vtab_cursor *cur, sqlite_int64 *rowid) {
  *rowid = ((cache_cursor *)cur)->i + 1;
  return SQLITE_OK;
}

/* No xCreate: eponymous only. */
static sqlite3_module cache_module = {
    .xConnect = cache_connect,
    .xBestIndex = cache_best_index,
    .xDisconnect = cache_disconnect,
    .xOpen = cache_open,
    .xClose = cache_close,
    .xFilter = cache_filter,
    .xNext = cache_next,
    .xEof = cache_eof,
    .xColumn = cache_column,
    .xRowid = cache_rowid,
};

int ml_model_cache_register(sqlite3 *db, ml_conn *c) {
  ml_conn_ref(c);
  return sqlite3_create_module_v2(db, "ml_model_cache", &cache_module, c, ml_conn_unref);
}

/*
** A read transaction on main for a lookup, when the caller holds none
** (ml_registry_hold): the connection's kept statement when it can keep
** one, else one prepared for this call.  Undone by hold_end.
*/
static sqlite3_stmt *hold_begin(ml_conn *c, sqlite3 *db) {
  if (sqlite3_txn_state(db, "main") != SQLITE_TXN_NONE) return NULL;
  if (c->lookups < 2) c->lookups++;
  /* The first lookup prepares a statement for itself: a connection that
  ** predicts once pays for no table and no kept statement (a sixth more
  ** instructions than that prediction otherwise costs). */
  if (c->cache_table == 0 && c->lookups > 1) {
    /* Naming the table connects it (SQLite makes an eponymous table when a
    ** statement first names it); a table of that name in the database hides it. */
    sqlite3_stmt *st;
    c->cache_table = -1;
    if (sqlite3_prepare_v2(db, "SELECT 0 FROM ml_model_cache", -1, &st, NULL) == SQLITE_OK)
      sqlite3_finalize(st);
  }
  if (c->cache_table == 1 && !c->hold &&
      sqlite3_prepare_v3(db, "PRAGMA main.schema_version", -1, SQLITE_PREPARE_PERSISTENT, &c->hold,
                         NULL) != SQLITE_OK)
    c->hold = NULL;
  if (c->hold && !sqlite3_stmt_busy(c->hold)) {
    if (sqlite3_step(c->hold) == SQLITE_ROW) return c->hold;
    sqlite3_reset(c->hold);
    return NULL;
  }
  sqlite3_stmt *hold;
  ml_registry_hold(db, &hold);
  return hold;
}

static void hold_end(ml_conn *c, sqlite3_stmt *hold) {
  if (hold && hold == c->hold) sqlite3_reset(hold);
  else sqlite3_finalize(hold);
}

/* The cached model for these bytes, decoding them on a miss; NULL after reporting. */
static shared_model *cache_get(sqlite3_context *ctx, const char *fname, int iArg,
                               const unsigned char *z, int n) {
  ml_conn *c = sqlite3_user_data(ctx);
  uint32_t hash = blob_hash(z, n);
  if (c->models.n)
    for (shared_model *s = c->models.bucket[hash & (c->models.n - 1)]; s; s = s->next)
      if (s->hash == hash && s->nkey == n && memcmp(s->key, z, (size_t)n) == 0) {
        lru_touch(c, s);
        return s;
      }
  char err[200];
  ml_model *m;
  int rc = ml_model_decode(z, n, &m, err, sizeof err);
  if (rc) {
    if (rc == ML_NOMEM) {
      sqlite3_result_error_nomem(ctx);
    } else {
      ml_error(ctx, "%s(): argument %d: %s", fname, iArg + 1, err);
    }
    return NULL;
  }
  shared_model *s = sqlite3_malloc(sizeof *s);
  unsigned char *key = sqlite3_malloc(n);
  double *x = sqlite3_malloc64(24 * (sqlite3_uint64)m->p + 8); /* a row, an interval's 2p */
  if (!s || !key || !x) {
    sqlite3_free(s);
    sqlite3_free(key);
    sqlite3_free(x);
    ml_model_free(m);
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  memcpy(key, z, (size_t)n);
  int numeric = 1;
  for (int j = 0; j < m->k; j++) numeric &= m->feat[j].type == ML_FEAT_NUMERIC;
  *s = (shared_model){.refs = 1, .m = m, .key = key, .nkey = n, .numeric = numeric, .x = x,
                      .tq_level = NAN, .tq = NAN};
  hash_grow(&c->models, 0);
  if (!c->models.n) { /* no table to keep it in, and nobody else would free it */
    shared_unref(s);
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  s->refs++;
  s->cached = 1;
  s->hash = hash;
  s->bytes = sizeof *s + 2 * (size_t)n + 16 * (size_t)m->p + 8;
  s->next = c->models.bucket[hash & (c->models.n - 1)];
  c->models.bucket[hash & (c->models.n - 1)] = s;
  c->models.count++;
  lru_push(c, s);
  c->bytes += s->bytes;
  cache_trim(c);
  shared_unref(s); /* the cache's reference remains */
  return s;
}

static named_model *name_find(ml_conn *c, const char *ref, uint32_t hash) {
  if (c->names.n)
    for (named_model *e = c->names.bucket[hash & (c->names.n - 1)]; e; e = e->next)
      if (e->hash == hash && strcmp(e->ref, ref) == 0) return e;
  return NULL;
}

/*
** Remembers that ref names s, as the registry's mark and main's commit
** trace say.  Not remembered out of memory: still a correct answer.
*/
static void name_remember(ml_conn *c, const char *ref, uint32_t hash, shared_model *s,
                          const ml_registry_mark *mark, const ml_file_mark *trace) {
  hash_grow(&c->names, 1);
  named_model *e = c->names.n ? sqlite3_malloc(sizeof *e) : NULL;
  char *copy = e ? sqlite3_mprintf("%s", ref) : NULL;
  if (!copy) {
    sqlite3_free(e);
    return;
  }
  *e = (named_model){copy, hash, s, *mark, *trace, c->names.bucket[hash & (c->names.n - 1)], s->names};
  c->names.bucket[hash & (c->names.n - 1)] = e;
  c->names.count++;
  s->names = e;
  s->bytes += sizeof *e + strlen(copy) + 1;
  c->bytes += sizeof *e + strlen(copy) + 1;
  cache_trim(c);
}

/*
** Inside the read transaction a lookup opened (hold): what main's trace,
** read before it began, vouches for.  The first lookup of a connection
** looks for no watch, so that one prediction costs no more than it must.
*/
static void trace_settle(ml_conn *c, sqlite3 *db, sqlite3_stmt *hold, ml_file_mark *trace) {
  if (!hold || c->lookups < 2) {
    trace->kind = ML_TRACE_NONE;
  } else if (trace->kind == ML_TRACE_NONE) {
    ml_file_watch_find(db, &c->watch); /* read next time, before the transaction */
  } else {
    ml_file_mark_settle(db, trace);
  }
}

static void lookup_error(sqlite3_context *ctx, sqlite3 *db, const char *fname, const char *ref,
                         int rc, char *err) {
  if (err) {
    ml_error_msg(ctx, err);
  } else if (rc == SQLITE_NOMEM) {
    ml_error_nomem(ctx);
  } else {
    char *msg = sqlite3_mprintf("%s(): looking up model '%s': %s", fname, ref, sqlite3_errmsg(db));
    int made = msg != NULL;
    ml_error_msg(ctx, msg);
    if (made) sqlite3_result_error_code(ctx, rc);
  }
}

/*
** The model a registry reference names now; NULL after reporting.
** Outside a transaction, a reference resolved before is taken as it is
** when main's commit trace says nobody committed since (filemark.h);
** otherwise a read transaction checks the registry's mark, and looks up.
*/
static shared_model *named_get(sqlite3_context *ctx, const char *fname, int iArg, const char *ref) {
  ml_conn *c = sqlite3_user_data(ctx);
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  uint32_t hash = text_hash(ref);
  named_model *e = name_find(c, ref, hash);
  ml_file_mark trace = {0};
  if (c->watch.kind && sqlite3_txn_state(db, "main") == SQLITE_TXN_NONE) {
    ml_file_mark_read(db, &c->watch, &trace);
    if (e && ml_file_mark_same(&e->trace, &trace)) {
      lru_touch(c, e->s);
      return e->s;
    }
  }
  /* A statement that reads no table of main (SELECT ml_predict('m', 1))
  ** holds no transaction there: open one, or nothing could be trusted. */
  sqlite3_stmt *hold = hold_begin(c, db);
  trace_settle(c, db, hold, &trace);
  ml_registry_mark now;
  ml_registry_mark_now(db, &now);
  if (e && ml_registry_mark_same(&e->mark, &now)) {
    hold_end(c, hold);
    if (hold) e->trace = trace;
    lru_touch(c, e->s);
    return e->s;
  }
  if (e) name_unlink(c, e);
  sqlite3_int64 version;
  unsigned char *blob;
  int n;
  char *err;
  ml_registry_mark mark;
  int rc = ml_registry_find(db, c, fname, ref, &version, &blob, &n, &mark, &err);
  if (rc != SQLITE_OK) {
    lookup_error(ctx, db, fname, ref, rc, err);
    hold_end(c, hold); /* after sqlite3_errmsg: finalizing or resetting resets it */
    return NULL;
  }
  hold_end(c, hold);
  shared_model *s = cache_get(ctx, fname, iArg, blob, n);
  sqlite3_free(blob);
  if (s && mark.valid && s->cached) name_remember(c, ref, hash, s, &mark, &trace);
  return s;
}

/* The shared model of argument iArg; NULL after reporting. */
static shared_model *model_arg(sqlite3_context *ctx, const char *fname, sqlite3_value **argv,
                               int iArg) {
  shared_model *s = sqlite3_get_auxdata(ctx, iArg);
  if (s) return s;
  sqlite3_value *v = argv[iArg];
  int type = sqlite3_value_type(v);
  if (type == SQLITE_BLOB) {
    s = cache_get(ctx, fname, iArg, sqlite3_value_blob(v), sqlite3_value_bytes(v));
  } else if (type == SQLITE_TEXT) {
    s = named_get(ctx, fname, iArg, (const char *)sqlite3_value_text(v));
  } else {
    ml_error(ctx, "%s(): argument %d must be a model BLOB or a model name, got %s", fname, iArg + 1,
             type == SQLITE_NULL ? "NULL" : "a number");
    return NULL;
  }
  if (!s) return NULL;
  /* Offer it to the statement, unless this call site was given it before and
  ** did not keep it: then the argument is not a constant and every row
  ** would pay for the offer. */
  if (s->owner != ctx) {
    s->owner = ctx;
    s->refs++;
    sqlite3_set_auxdata(ctx, iArg, s, shared_unref);
  }
  return s;
}

const ml_model *ml_model_arg(sqlite3_context *ctx, const char *fname, sqlite3_value **argv,
                             int iArg) {
  shared_model *s = model_arg(ctx, fname, argv, iArg);
  return s ? s->m : NULL;
}

/*
** A GLM's offset, the argument after its features: 1 with *off, 0 for a
** NULL (the prediction is NULL), -1 after reporting.
*/
static int offset_arg(sqlite3_context *ctx, const char *fname, const ml_model *m, sqlite3_value *v,
                      double *off) {
  int kind = ml_value_num(v, off);
  if (kind == ML_V_NULL) return 0;
  if (kind == ML_V_NUM) return 1;
  char what[160];
  snprintf(what, sizeof what, "the offset '%.100s'", m->offset);
  ml_value_error(ctx, fname, what, kind, v, 0);
  return -1;
}

/* The result of a prediction with linear predictor lin: a GLM's is on
** the response scale, the inverse link of lin plus the offset argument. */
static void result_prediction(sqlite3_context *ctx, const ml_model *m, double lin,
                              sqlite3_value **argv) {
  if (m->family == ML_FAMILY_GAUSSIAN) {
    sqlite3_result_double(ctx, lin);
    return;
  }
  double off = 0;
  if (m->offset) {
    int r = offset_arg(ctx, "ml_predict", m, argv[1 + m->k], &off);
    if (r <= 0) return;
  }
  sqlite3_result_double(ctx, ml_glm_linkinv(m->family, lin + off));
}

void ml_predict_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  if (argc < 1) {
    sqlite3_result_error(ctx, "ml_predict(): expected a model and its features", -1);
    return;
  }
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
  shared_model *s = model_arg(ctx, "ml_predict", argv, 0);
  if (!s) return;
  const ml_model *m = s->m;
  if (argc - 1 != m->k + (m->offset != NULL)) {
    char *names = ml_model_feature_list(m, ML_LIST_NAMES);
    char *msg = !names ? NULL
                : m->offset ? sqlite3_mprintf("ml_predict(): the model expects %d feature%s (%s) and "
                                              "its offset (%s), got %d arguments after the model",
                                              m->k, m->k == 1 ? "" : "s", names, m->offset, argc - 1)
                : sqlite3_mprintf("ml_predict(): the model expects %d feature%s (%s), got %d",
                                  m->k, m->k == 1 ? "" : "s", names, argc - 1);
    ml_error_msg(ctx, msg);
    ml_free(names);
    return;
  }
  int ic = (m->flags & ML_MODEL_INTERCEPT) != 0;
  if (s->numeric) {
    /* Each argument is its term: numbers go straight into the sum, in the
    ** order and with the result of the general path below.  Anything else
    ** (a NULL to impute or refuse, a value to report) takes that path. */
    double yhat = 0, d;
    if (ic) yhat += m->beta[0]; /* as 0 + beta_0 * 1 there, down to the sign of a zero */
    int j = 0;
    while (j < m->k && ml_value_num(argv[1 + j], &d) == ML_V_NUM) yhat += m->beta[ic + j++] * d;
    if (j == m->k) {
      result_prediction(ctx, m, yhat, argv);
      return;
    }
  }
  int blk;
  if (ml_design_row_blocked(ctx, "ml_predict", m, argv + 1, s->x, m->fac ? &blk : NULL) == ML_V_NUM) {
    result_prediction(ctx, m, ml_model_linear(m, s->x, blk), argv);
  }
}

/* The function's result: the JSON object {keys[i]: v[i], ...} (NaN as null). */
static void result_json_object(sqlite3_context *ctx, const char *const *keys, const double *v,
                               int n) {
  ml_sb b;
  ml_sb_init(&b);
  for (int i = 0; i < n; i++) {
    ml_sb_printf(&b, "%s\"%s\":", i ? "," : "{", keys[i]);
    ml_sb_json_number(&b, v[i]);
  }
  ml_sb_puts(&b, "}");
  size_t len;
  char *json = ml_sb_finish(&b, &len);
  if (!json) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_text64(ctx, json, len, ml_free, SQLITE_UTF8);
  sqlite3_result_subtype(ctx, 'J');
}

/*
** x'b and ||W^-T x|| of a design row x (as ml_design_row_blocked gave it,
** blk its block term for a model with one), W the factor of the kept
** columns; u: 2p doubles of room.  0, or -1 if LAPACK failed.
*/
static int fit_and_norm(const ml_model *m, const double *x, int blk, double *u, double *fit,
                        double *norm) {
  *fit = *norm = 0;
  if (m->fac) {
    *fit = (double)ml_model_dot(m, x, blk);
    return ml_model_interval_norm(m, x, blk, u, norm) ? -1 : 0;
  }
  for (int j = 0, k = 0; j < m->p; j++) {
    *fit += m->beta[j] * x[j];
    if (!m->aliased[j]) u[k++] = x[j];
  }
  int bad = 0;
  if (m->rank > 0) {
    ml_blas_lock();
    bad = LAPACKE_dtrtrs_work(LAPACK_COL_MAJOR, 'U', 'T', 'N', m->rank, 1, m->W, m->p + 1, u,
                              m->rank) < 0;
    ml_blas_unlock();
  }
  for (int k = 0; k < m->rank; k++) *norm = hypot(*norm, u[k]);
  return bad ? -1 : 0;
}

/*
** The fitted value with its confidence interval (of the mean) and prediction
** interval (of a new observation), as R's predict.lm(interval = ...):
** se_fit = sigma ||W^-T x||, from the model's factor W of the kept columns.
*/
void ml_predict_interval_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  if (argc < 2) {
    sqlite3_result_error(ctx, "ml_predict_interval(): expected a model, a level and its features", -1);
    return;
  }
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
  double level;
  if (ml_level_arg(ctx, "ml_predict_interval", argv[1], &level)) return;
  shared_model *s = model_arg(ctx, "ml_predict_interval", argv, 0);
  if (!s) return;
  ml_model *m = s->m;
  if (argc - 2 != m->k + (m->offset != NULL)) {
    char *names = ml_model_feature_list(m, ML_LIST_NAMES);
    char *msg = !names ? NULL
                : m->offset ? sqlite3_mprintf("ml_predict_interval(): the model expects %d feature%s "
                                              "(%s) and its offset (%s), got %d arguments after "
                                              "the level", m->k, m->k == 1 ? "" : "s", names,
                                              m->offset, argc - 2)
                : sqlite3_mprintf("ml_predict_interval(): the model expects %d feature%s (%s), got %d",
                                  m->k, m->k == 1 ? "" : "s", names, argc - 2);
    ml_error_msg(ctx, msg);
    ml_free(names);
    return;
  }
  if (m->l2 > 0) {
    sqlite3_result_error(ctx, "ml_predict_interval(): a ridge model has no least-squares intervals", -1);
    return;
  }
  /* The model belongs to the cache, which keeps it for the statement: the
  ** factor computed here, and the quantile, serve every row after this one. */
  int rc = ml_model_prepare_intervals(m);
  if (rc) {
    ml_result_code(ctx, "ml_predict_interval", rc);
    return;
  }
  int glm = m->family != ML_FAMILY_GAUSSIAN;
  if (s->tq_level != level) {
    s->tq = glm ? ml_qnorm(0.5 + level / 2) : ml_qt(0.5 + level / 2, m->df_resid);
    s->tq_level = level;
  }
  double off = 0;
  if (glm && m->offset && offset_arg(ctx, "ml_predict_interval", m, argv[2 + m->k], &off) <= 0)
    return;
  double *x = s->x, tq = s->tq, fit, norm;
  int blk;
  if (ml_design_row_blocked(ctx, "ml_predict_interval", m, argv + 2, x, m->fac ? &blk : NULL) !=
      ML_V_NUM)
    return;
  if (fit_and_norm(m, x, blk, x + m->p, &fit, &norm)) {
    ml_result_code(ctx, "ml_predict_interval", ML_ELAPACK);
    return;
  }
  if (glm) {
    /* Wald's interval on the link scale (dispersion 1), through the
    ** inverse link: R's predict(type = "link", se.fit = TRUE), mapped. */
    double eta = fit + off, se = norm;
    int f = m->family;
    const double g[5] = {ml_glm_linkinv(f, eta), eta, se, ml_glm_linkinv(f, eta - tq * se),
                         ml_glm_linkinv(f, eta + tq * se)};
    static const char *gkeys[5] = {"fit", "link", "se_link", "conf_low", "conf_high"};
    result_json_object(ctx, gkeys, g, 5);
    return;
  }
  double se = m->sigma * norm;
  double sp = sqrt(se * se + m->sigma * m->sigma);
  const double v[6] = {fit, se, fit - tq * se, fit + tq * se, fit - tq * sp, fit + tq * sp};
  static const char *keys[6] = {"fit", "se_fit", "conf_low", "conf_high", "pred_low", "pred_high"};
  result_json_object(ctx, keys, v, 6);
}

void ml_model_json_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
  double level = 0.95;
  if (argc > 1 && ml_level_arg(ctx, "ml_model_json", argv[1], &level)) return;
  const ml_model *m = ml_model_arg(ctx, "ml_model_json", argv, 0);
  if (!m) return;
  char *json;
  size_t len;
  int rc = ml_model_json(m, level, &json, &len);
  if (rc) {
    ml_result_code(ctx, "ml_model_json", rc);
    return;
  }
  sqlite3_result_text64(ctx, json, len, sqlite3_free, SQLITE_UTF8);
  sqlite3_result_subtype(ctx, 'J');
}

void ml_version_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  sqlite3_result_text(ctx, SQLML_VERSION, -1, SQLITE_STATIC);
}
