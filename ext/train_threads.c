/*
** train_threads.c: ml_train's first pass read by several connections at
** once, with option "threads": N.
**
** The source's rowids, from the least to the greatest, are cut into N
** ranges of equal width.  Each range is read by a connection of its own
** to the same database file, on a thread of its own (the calling thread
** reads the first), into an accumulator of its own: a copy of the
** trainer with the same plan.  Their accumulators then merge into the
** trainer's, in range order (ml_fitacc_merge: exact, as two factors of
** disjoint rows fold into the factor of both), and the rest of ml_train
** goes on as after one pass: the model equals the one-connection fit up
** to rounding.
**
** Every connection must read the same rows, committed when the call
** began, so that the ranges together are the table:
**   - a statement of the caller's stays open on the source (its least
**     rowid, stepped once) for the whole first pass: the caller's read
**     transaction, whose snapshot its other reads share;
**   - in rollback-journal mode that read lock is enough: no commit can
**     land while it is held;
**   - in WAL mode a commit can land, and this SQLite has no sqlite3_snapshot
**     to hand one snapshot over: a guard connection holds the write lock
**     (BEGIN IMMEDIATE) while the caller and each reader begin their read
**     transactions, so they all begin at the last commit, and lets it go
**     once they have.  A caller already inside a transaction on that
**     database began its snapshot earlier, and is refused.
** Uncommitted changes of the caller are not visible to other connections:
** a caller with a write transaction on the source's database is refused.
**
** A GLM's IRLS passes are read the same way (threads_pass with glm_row):
** each reader sums its rows' part of the next step's factor, the deviance,
** the metrics and the AUC's entries; the readers keep their transactions
** from the first pass to the last, so every pass reads the same rows.
**
** Refused, with an error that says what to do: a view, a query, a virtual
** or WITHOUT ROWID table, a temporary table or an in-memory database (no
** file another connection can open), an incremental version.  The readers are opened read-only, with the
** defensive configuration and no extension; each reader's statement is
** first prepared on the caller's connection, so its authorizer sees what
** they will read.
*/
#define _POSIX_C_SOURCE 200809L /* clock_gettime, pthread_cond_timedwait */
#include <stdint.h>
#include <time.h>

#include "formula.h"
#include "train.h"

#if defined(_WIN32) || defined(SQLML_NO_THREADS)
#define ML_HAVE_THREADS 0
typedef int atomic_int; /* nothing runs at once */
#define atomic_load(p) (*(p))
#define atomic_store(p, v) (*(p) = (v))
#else
#define ML_HAVE_THREADS 1
#include <pthread.h>
#include <stdatomic.h>
#endif

/* How long a connection waits for a lock before it gives up (ms). */
#define LOCK_WAIT_MS 10000

typedef struct reader {
  trainer t;              /* a copy of the trainer: its own accumulator, counts and statement */
  struct ml_threads *p;   /* the readers it is one of */
  int (*fn)(trainer *);   /* what it does with a row: first_row, or an IRLS pass's */
  sqlite3 *db;            /* its connection */
  sqlite3_stmt *rows;     /* its statement (the trainer's, over its rowids), kept for every pass */
  sqlite3_int64 lo, hi;   /* its rowids */
  int rc;                 /* SQLITE_DONE, or the code its statement failed with */
  int started;            /* its thread runs */
#if ML_HAVE_THREADS
  pthread_t th;
#endif
} reader;

struct ml_threads {
  int n;                  /* readers that read */
  int nopen;              /* readers whose connections are open (n may drop below, for few rowids) */
  char *file, *vfs, *schema, *table, *rid;
  char *from;             /* the readers' FROM item: the table in their main database */
  char *sql;              /* the trainer's statement the readers' were made from */
  sqlite3_stmt *pin;      /* the caller's open read of the source */
  sqlite3_stmt *probe;    /* a statement of the caller's that sees its pending interrupt */
  atomic_int stop;        /* the caller was interrupted: every reader stops */
  int running;            /* readers on threads of their own still reading (under done) */
#if ML_HAVE_THREADS
  pthread_mutex_t done;   /* running, and ended: its signal that a reader is done */
  pthread_cond_t ended;
#endif
  reader *r;              /* n of them, at a 16-byte boundary of mem (a trainer holds long doubles,
                          ** which the compiler may copy with aligned instructions; SQLite's
                          ** allocator aligns to 8) */
  void *mem;
};

/* ---- the plan: what may run, and the connections ---- */

/* Why this source cannot be read by other connections, or NULL. */
static const char *not_shareable(trainer *t, const ml_source *src) {
  if (!src->type) return "a query";
  if (strcmp(src->type, "view") == 0) return "a view";
  if (strcmp(src->type, "table") != 0) return "a virtual table";
  if (src->without_rowid) return "a WITHOUT ROWID table";
  if (sqlite3_stricmp(src->schema, "temp") == 0) return "a temporary table";
  const char *file = sqlite3_db_filename(t->db, src->schema);
  if (!file || !file[0]) return "a table in an in-memory database";
  return NULL;
}

/* What the readers cannot take (yet): 0, or -1 after reporting. */
int threads_check(const trainer *t) {
  if (t->o.threads <= 1) return 0;
  const char *what = !ML_HAVE_THREADS                      ? "this build of sqlml has no threads"
                     : t->o.incremental                    ? "an incremental version"
                     : !t->by_agg                          ? "rows read column by column"
                                                           : NULL;
  if (what)
    return ml_error(t->ctx, "ml_train(): option threads does not take %s yet; train without "
                            "\"threads\"", what);
  return 0;
}

/* Where the source is: file, VFS, schema, table, a name of its rowid.  0, or -1 after reporting. */
static int locate(trainer *t, struct ml_threads *p) {
  char *err = NULL;
  ml_source src;
  int rc = ml_source_open(t->db, "ml_train()", t->source, NULL, &src, &err);
  const char *why = rc == SQLITE_OK ? not_shareable(t, &src) : NULL;
  sqlite3_vfs *vfs = NULL;
  if (rc == SQLITE_OK && !why) {
    sqlite3_file_control(t->db, src.schema, SQLITE_FCNTL_VFS_POINTER, &vfs);
    p->file = sqlite3_mprintf("%s", sqlite3_db_filename(t->db, src.schema));
    p->vfs = vfs ? sqlite3_mprintf("%s", vfs->zName) : NULL;
    p->schema = sqlite3_mprintf("%s", src.schema);
    p->table = sqlite3_mprintf("%s", src.name);
    p->from = sqlite3_mprintf("\"main\".\"%w\"", src.name);
    p->rid = sqlite3_mprintf("%s", t->rowid_alias                                        ? t->rowid_alias
                                   : ml_find_name(t->cols, t->ncol, "rowid") < 0   ? "rowid"
                                   : ml_find_name(t->cols, t->ncol, "_rowid_") < 0 ? "_rowid_"
                                                                                   : "oid");
    if (!p->file || (vfs && !p->vfs) || !p->schema || !p->table || !p->from || !p->rid)
      rc = SQLITE_NOMEM;
  }
  ml_source_free(&src);
  if (err) {
    sqlite3_result_error(t->ctx, err, -1);
    sqlite3_free(err);
    return -1;
  }
  if (rc != SQLITE_OK) return ml_result_db_error(t->ctx, "ml_train", t->db, rc), -1;
  if (why)
    return ml_error(t->ctx, "ml_train(): option threads reads a table of a database file on "
                            "several connections, got %s ('%s'); train without \"threads\"",
                    why, t->source);
  return 0;
}

/* Reports rc of connection db (the caller's when db is t->db): -1. */
static int db_error(trainer *t, sqlite3 *db, int rc, const char *doing) {
  if (rc == SQLITE_NOMEM || !db) return ml_error_nomem(t->ctx);
  ml_error(t->ctx, "ml_train(): option threads: %s: %s; train without \"threads\"", doing,
           sqlite3_errmsg(db));
  sqlite3_result_error_code(t->ctx, rc);
  return -1;
}

/* A connection to the source's file: read-only (or not, for the guard), defensive. */
static int open_file(trainer *t, const struct ml_threads *p, int readonly, sqlite3 **db) {
  int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(p->file, db, flags, p->vfs);
  if (rc == SQLITE_OK) {
    sqlite3_busy_timeout(*db, LOCK_WAIT_MS);
    sqlite3_db_config(*db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(*db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
  }
  return rc == SQLITE_OK ? 0 : db_error(t, *db, rc, "opening the database file again");
}

/* Is the source's database in WAL mode?  1, 0, or -1 after reporting. */
static int in_wal(trainer *t, const struct ml_threads *p) {
  char *sql = sqlite3_mprintf("PRAGMA \"%w\".journal_mode", p->schema);
  sqlite3_stmt *st = NULL;
  int rc = sql ? sqlite3_prepare_v2(t->db, sql, -1, &st, NULL) : SQLITE_NOMEM, wal = 0;
  sqlite3_free(sql);
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    wal = mode && sqlite3_stricmp(mode, "wal") == 0;
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_OK ? wal : db_error(t, t->db, rc, "reading the journal mode");
}

/*
** The caller's read of the source, left open (see the header): its least
** rowid in *lo, its greatest (t->mark) after.  0; 1 for a table without
** rows (nothing to share); -1 after reporting.
*/
static int pin(trainer *t, struct ml_threads *p, sqlite3_int64 *lo) {
  char *sql = sqlite3_mprintf("SELECT \"%w\" FROM \"%w\".\"%w\" ORDER BY 1", p->rid, p->schema,
                              p->table);
  int rc = sql ? sqlite3_prepare_v2(t->db, sql, -1, &p->pin, NULL) : SQLITE_NOMEM;
  sqlite3_free(sql);
  if (rc == SQLITE_OK) rc = sqlite3_step(p->pin);
  if (rc == SQLITE_DONE) return 1;
  if (rc != SQLITE_ROW) return db_error(t, t->db, rc, "reading the source");
  *lo = sqlite3_column_int64(p->pin, 0);
  if ((rc = sqlite3_prepare_v2(t->db, "SELECT 1", -1, &p->probe, NULL)) != SQLITE_OK)
    return db_error(t, t->db, rc, "preparing a statement");
  sql = sqlite3_mprintf("SELECT max(\"%w\") FROM \"%w\".\"%w\"", p->rid, p->schema, p->table);
  sqlite3_stmt *st = NULL;
  rc = sql ? sqlite3_prepare_v2(t->db, sql, -1, &st, NULL) : SQLITE_NOMEM;
  sqlite3_free(sql);
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    t->mark = sqlite3_column_int64(st, 0);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_OK ? 0 : db_error(t, t->db, rc, "reading the source");
}

/* Reader i's connection, its read transaction begun. */
static int open_reader(trainer *t, struct ml_threads *p, reader *r) {
  if (open_file(t, p, 1, &r->db)) return -1;
  int rc = sqlite3_create_function_v2(r->db, "ml__pass", -1, SQLITE_UTF8, NULL, NULL, ml_pass_step,
                                      ml_pass_final, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_function_v2(r->db, "ml__more", -1, SQLITE_UTF8, NULL, ml_more_func, NULL,
                                    NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(r->db, "BEGIN; SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
  return rc == SQLITE_OK ? 0 : db_error(t, r->db, rc, "beginning a read");
}

/*
** The caller's read and the readers' begin together (see the header):
** under the guard's write lock in WAL mode.  0; 1 when there is nothing to
** share (no rows); -1 after reporting.
*/
static int begin_reads(trainer *t, struct ml_threads *p, sqlite3_int64 *lo) {
  const char *schema = p->schema;
  if (sqlite3_txn_state(t->db, schema) == SQLITE_TXN_WRITE)
    return ml_error(t->ctx, "ml_train(): option threads reads on other connections, which cannot "
                            "see this connection's uncommitted changes to '%s'; commit first, or "
                            "train without \"threads\"", schema);
  int wal = in_wal(t, p), rc = 0;
  if (wal < 0) return -1;
  if (wal && sqlite3_txn_state(t->db, schema) != SQLITE_TXN_NONE)
    return ml_error(t->ctx, "ml_train(): option threads cannot share this transaction's snapshot "
                            "of '%s' (a WAL database, and this SQLite has no sqlite3_snapshot); "
                            "call ml_train outside BEGIN ... COMMIT, or train without \"threads\"",
                    schema);
  sqlite3 *guard = NULL;
  if (wal && (open_file(t, p, 0, &guard) ||
              (rc = sqlite3_exec(guard, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)) {
    if (guard && rc) db_error(t, guard, rc, "holding the write lock a moment");
    sqlite3_close(guard);
    return -1;
  }
  rc = pin(t, p, lo);
  for (int i = 0; rc == 0 && i < p->n; i++, p->nopen++) rc = open_reader(t, p, &p->r[i]);
  sqlite3_close(guard); /* its transaction rolls back: nothing was written */
  return rc;
}

/* Reader i's rowids: [lo, hi] cut into n ranges of equal width. */
static void ranges(struct ml_threads *p, sqlite3_int64 lo, sqlite3_int64 hi) {
  uint64_t span = (uint64_t)hi - (uint64_t)lo, step = span / (uint64_t)p->n + 1;
  for (int i = 0; i < p->n; i++) {
    p->r[i].lo = (sqlite3_int64)((uint64_t)lo + step * (uint64_t)i);
    p->r[i].hi = i + 1 == p->n ? hi : (sqlite3_int64)((uint64_t)lo + step * (uint64_t)(i + 1) - 1);
  }
}

int threads_plan(trainer *t) {
  if (t->o.threads <= 1) return 0;
  struct ml_threads *p = t->par = sqlite3_malloc64(sizeof *p);
  if (!p) return ml_error_nomem(t->ctx);
  memset(p, 0, sizeof *p);
  if (locate(t, p)) return -1;
  p->n = t->o.threads;
  if (!(p->mem = sqlite3_malloc64(sizeof(reader) * (sqlite3_uint64)p->n + 16))) return ml_error_nomem(t->ctx);
  p->r = (reader *)(((uintptr_t)p->mem + 15) & ~(uintptr_t)15);
  memset(p->r, 0, sizeof(reader) * (size_t)p->n);
  sqlite3_int64 lo = 0;
  int rc = begin_reads(t, p, &lo);
  if (rc) {
    threads_end(t); /* no rows: one connection reads them */
    return rc < 0 ? -1 : 0;
  }
  if ((uint64_t)t->mark - (uint64_t)lo < (uint64_t)p->n) p->n = (int)((uint64_t)t->mark - (uint64_t)lo + 1);
  ranges(p, lo, t->mark);
  return 0;
}

void threads_end(trainer *t) {
  struct ml_threads *p = t->par;
  if (!p) return;
  for (int i = 0; p->r && i < p->nopen; i++) {
    sqlite3_finalize(p->r[i].rows);
    sqlite3_close_v2(p->r[i].db);
  }
  sqlite3_free(p->sql);
  sqlite3_finalize(p->pin);
  sqlite3_finalize(p->probe);
  sqlite3_free(p->mem);
  sqlite3_free(p->file);
  sqlite3_free(p->vfs);
  sqlite3_free(p->schema);
  sqlite3_free(p->table);
  sqlite3_free(p->from);
  sqlite3_free(p->rid);
  sqlite3_free(p);
  t->par = NULL;
}

/* ---- the first pass ---- */

/*
** The readers' statement: the trainer's, FROM the table in the reader's
** main database, WHERE its rowid is in ?2..?3.  Prepared once on the
** caller's connection (its authorizer decides), then on each reader's; and
** again only when the trainer's changes (a feature left out of '*').
*/
static int prepare_readers(trainer *t, struct ml_threads *p) {
  const char *sql = sqlite3_sql(t->rows);
  if (p->sql && strcmp(p->sql, sql) == 0) return 0;
  sqlite3_free(p->sql);
  for (int i = 0; i < p->n; i++) {
    sqlite3_finalize(p->r[i].rows);
    p->r[i].rows = NULL;
  }
  if (!(p->sql = sqlite3_mprintf("%s", sql))) return ml_error_nomem(t->ctx);
  int head = (int)(strlen(sql) - strlen(t->from)), rc;
  char *mine = sqlite3_mprintf("%.*s\"%w\".\"%w\" WHERE \"%w\" BETWEEN ?2 AND ?3", head, sql,
                               p->schema, p->table, p->rid);
  char *theirs = sqlite3_mprintf("%.*s%s WHERE \"%w\" BETWEEN ?2 AND ?3", head, sql, p->from, p->rid);
  sqlite3_stmt *st = NULL;
  rc = mine && theirs ? sqlite3_prepare_v2(t->db, mine, -1, &st, NULL) : SQLITE_NOMEM;
  sqlite3_finalize(st);
  if (rc) db_error(t, t->db, rc, "preparing the readers' statement");
  for (int i = 0; !rc && i < p->n; i++) {
    reader *r = &p->r[i];
    rc = sqlite3_prepare_v2(r->db, theirs, -1, &r->rows, NULL);
    if (!rc) rc = sqlite3_bind_int64(r->rows, 2, r->lo);
    if (!rc) rc = sqlite3_bind_int64(r->rows, 3, r->hi);
    if (rc) db_error(t, r->db, rc, "preparing the readers' statement");
  }
  sqlite3_free(mine);
  sqlite3_free(theirs);
  if (!rc) return 0;
  sqlite3_free(p->sql); /* prepared again, should a pass come */
  p->sql = NULL;
  return -1;
}

/* The sums an IRLS pass adds up, cleared. */
static void glm_sums_reset(trainer *c) {
  memset(&c->dev, 0, sizeof c->dev);
  memset(&c->null_dev, 0, sizeof c->null_dev);
  memset(&c->null_sw, 0, sizeof c->null_sw);
  memset(&c->null_swz, 0, sizeof c->null_swz);
  memset(&c->aic_sum, 0, sizeof c->aic_sum);
  memset(c->gm, 0, sizeof c->gm);
  c->bound_rows = 0;
  c->again_n[0] = c->again_n[1] = 0;
  c->again_rows = 0;
}

/* What a copy needs for a pass: its accumulator for the first, its IRLS sums for the others. */
static int pass_state(trainer *t, trainer *c, int glm) {
  if (t->formula) {
    size_t n = sizeof(ml_fvalue) * (size_t)ml_formula_ncols(t->formula);
    if (!(c->fresp = sqlite3_malloc64(n + 1))) return ML_NOMEM;
    memset(c->fresp, 0, n);
  }
  if (!glm) {
    if (ml_fitacc_init(&c->fa, t->k, t->feat, t->kind, &t->o.fit, 2) ||
        (t->formula && ml_fitacc_use_formula(&c->fa, t->formula)))
      return ML_NOMEM;
    first_pass_reset(c);
    return ML_OK;
  }
  glm_sums_reset(c);
  ml_auc_init(&c->auc, t->o.auc_max_rows, t->cw >= 0);
  if (!(c->x = sqlite3_malloc64(8 * (sqlite3_uint64)t->m->p + 8))) return ML_NOMEM;
  return t->glm_accumulate ? ml_model_acc_init(&c->glm_acc, t->m) : ML_OK;
}

/* Reader r's copy of the trainer: the plan and the model shared, what a pass changes its own. */
static int copy_trainer(trainer *t, reader *r, int glm) {
  trainer *c = &r->t;
  memcpy(c, t, sizeof *c);
  /* Nothing of the trainer's is the copy's to free: */
  memset(&c->fa, 0, sizeof c->fa);
  memset(&c->warn, 0, sizeof c->warn);
  memset(&c->glm_acc, 0, sizeof c->glm_acc);
  memset(&c->auc, 0, sizeof c->auc);
  c->rows = r->rows;
  c->why = NULL;
  c->x = NULL;
  c->fresp = NULL;
  c->worker = 1;
  c->ctx = NULL;
  c->db = r->db;
  c->from = t->par->from;
  c->par = t->par; /* for threads_stopped(); a copy runs rows, never passes */
  c->o.progress = 0;
  c->nread = 0;
  c->kind = sqlite3_malloc64(sizeof(int) * (sqlite3_uint64)t->k + 1);
  c->sure = sqlite3_malloc64(sizeof(int) * (sqlite3_uint64)t->k + 1);
  c->why = sqlite3_malloc64(sizeof(char *) * (sqlite3_uint64)t->k + 1);
  c->colv = sqlite3_malloc64(sizeof(sqlite3_value *) * (sqlite3_uint64)t->ncols + 1);
  if (c->why) memset(c->why, 0, sizeof(char *) * (size_t)t->k);
  if (!c->kind || !c->sure || !c->why || !c->colv) return ML_NOMEM;
  memcpy(c->kind, t->kind, sizeof(int) * (size_t)t->k);
  memcpy(c->sure, t->sure, sizeof(int) * (size_t)t->k);
  for (int j = 0; j < t->k; j++)
    if (t->why[j] && !(c->why[j] = sqlite3_mprintf("%s", t->why[j]))) return ML_NOMEM;
  return pass_state(t, c, glm);
}

/* Frees what reader r's copy owns (a binomial target's levels it read, unless the trainer took them). */
static void free_copy(const trainer *t, reader *r) {
  trainer *c = &r->t;
  sqlite3_free(c->kind);
  sqlite3_free(c->sure);
  for (int j = 0; c->why && j < c->k; j++) sqlite3_free(c->why[j]);
  sqlite3_free(c->why);
  sqlite3_free(c->colv);
  sqlite3_free(c->x);
  sqlite3_free(c->fresp);
  for (int l = 0; l < 2; l++)
    if (c->ylev[l] != t->ylev[l]) sqlite3_free(c->ylev[l]);
  ml_sb_reset(&c->warn);
  ml_fitacc_free(&c->fa);
  ml_lsq_free(&c->glm_acc);
  ml_auc_free(&c->auc);
  memset(c, 0, sizeof *c);
}

/*
** sqlite3_interrupt() on the caller's connection reaches its statements,
** not the readers': the calling thread steps a statement of its own (the
** probe) while it reads its range, every 65,536 rows, and while it waits
** for the other readers; an interrupt seen stops them all (ml_pass_step
** asks threads_stopped).
*/
static void check_interrupt(struct ml_threads *p) {
  if (sqlite3_step(p->probe) == SQLITE_INTERRUPT) atomic_store(&p->stop, 1);
  sqlite3_reset(p->probe);
}

int threads_stopped(trainer *t) {
  struct ml_threads *p = t->par;
  if (t == &p->r[0].t) check_interrupt(p);
  return atomic_load(&p->stop);
}

#if ML_HAVE_THREADS
static void *read_range(void *arg) {
  reader *r = arg;
  r->rc = train_step_rows(&r->t, r->fn);
  sqlite3_reset(r->t.rows);
  if (r != &r->p->r[0]) {
    pthread_mutex_lock(&r->p->done);
    r->p->running--;
    pthread_cond_signal(&r->p->ended);
    pthread_mutex_unlock(&r->p->done);
  }
  return NULL;
}

/* The calling thread, its range read: watches for an interrupt (every 2 ms)
** until the others are done, woken as soon as they are. */
static void watch(struct ml_threads *p) {
  pthread_mutex_lock(&p->done);
  while (p->running > 0) {
    pthread_mutex_unlock(&p->done);
    check_interrupt(p);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 2000000;
    if (until.tv_nsec >= 1000000000) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&p->done);
    if (p->running > 0) pthread_cond_timedwait(&p->ended, &p->done, &until);
  }
  pthread_mutex_unlock(&p->done);
}
#endif

/* The readers read, the calling thread the first range: 0, or -1 after reporting. */
static int run_readers(trainer *t, struct ml_threads *p) {
#if ML_HAVE_THREADS
  int rc = 0;
  atomic_store(&p->stop, 0);
  p->running = 0;
  pthread_mutex_init(&p->done, NULL);
  pthread_cond_init(&p->ended, NULL);
  for (int i = 0; i < p->n; i++) p->r[i].p = p;
  for (int i = 1; !rc && i < p->n; i++) {
    pthread_mutex_lock(&p->done);
    rc = pthread_create(&p->r[i].th, NULL, read_range, &p->r[i]);
    p->r[i].started = !rc;
    p->running += !rc;
    pthread_mutex_unlock(&p->done);
  }
  if (!rc) read_range(&p->r[0]);
  watch(p);
  for (int i = 1; i < p->n; i++)
    if (p->r[i].started) pthread_join(p->r[i].th, NULL);
  pthread_cond_destroy(&p->ended);
  pthread_mutex_destroy(&p->done);
  if (rc) return ml_error(t->ctx, "ml_train(): option threads: a thread could not start (%d); "
                                  "train with fewer threads", rc);
  return 0;
#else
  (void)p;
  return ml_error(t->ctx, "ml_train(): this build of sqlml has no threads");
#endif
}

/* Welford's sums of two sets of rows as one. */
static void welford_merge(welford *s, const welford *o) {
  ml_moments_merge(&s->w, &s->mean, &s->m2, o->w, o->mean, o->m2);
}

/* A binomial target's text levels, read by a reader (target_levels), become the trainer's. */
static void take_levels(trainer *t, trainer *c) {
  if (t->levels_probed || !c->levels_probed) return;
  t->levels_probed = 1;
  for (int l = 0; l < 2; l++) t->ylev[l] = c->ylev[l];
}

/* A reader found a column's kind wrong, or a feature to leave out of '*': the
** trainer learns it, to start again.  1 if so. */
static int learn_restart(trainer *t, reader *r) {
  trainer *c = &r->t;
  take_levels(t, c);
  if (!c->restart) return 0;
  for (int j = 0; j < t->k; j++) {
    if (c->kind[j] == t->kind[j] || t->sure[j]) continue;
    t->kind[j] = c->kind[j];
    t->sure[j] = 1;
    sqlite3_free(t->why[j]);
    t->why[j] = c->why[j];
    c->why[j] = NULL;
  }
  if (c->drop >= 0 && t->drop < 0) feature_too_wide(t, c->drop);
  t->restart = 1;
  return 1;
}

/* A reader's error, as the caller's: -1. */
static int reader_error(trainer *t, reader *r) {
  int rc = r->rc;
  if (rc == SQLITE_NOMEM) return ml_error_nomem(t->ctx);
  sqlite3_result_error(t->ctx, sqlite3_errmsg(r->db), -1);
  if (rc != SQLITE_ERROR) sqlite3_result_error_code(t->ctx, rc);
  return -1;
}

/* Reader r's first pass into the trainer: accumulator and counts.  0, or -1 after reporting. */
static int merge_first(trainer *t, reader *r) {
  trainer *c = &r->t;
  if (!t->fraction_rows && c->fraction_rows) t->fraction_first = t->nread + c->fraction_first;
  t->nread += c->nread;
  int rc = ml_fitacc_merge(&t->fa, &c->fa);
  if (rc == ML_FA_TOO_WIDE) return feature_too_wide(t, t->fa.bad_col);
  if (rc) return ml_result_code(t->ctx, "ml_train", rc), -1;
  t->target_nulls += c->target_nulls;
  t->weight_nulls += c->weight_nulls;
  t->offset_nulls += c->offset_nulls;
  t->rows_hash += c->rows_hash;
  t->y_text |= c->y_text;
  t->w_text |= c->w_text;
  welford_merge(&t->wtrain, &c->wtrain);
  welford_merge(&t->wtest, &c->wtest);
  ml_ksum_merge(&t->dev_start, &c->dev_start);
  ml_ksum_merge(&t->prior_w, &c->prior_w);
  ml_ksum_merge(&t->prior_log_w, &c->prior_log_w);
  ml_ksum_merge(&t->prior_wy, &c->prior_wy);
  ml_ksum_merge(&t->aic_sat, &c->aic_sat);
  t->fraction_rows += c->fraction_rows;
  return 0;
}

/* Reader r's IRLS pass into the trainer: the step's factor, the sums, the AUC's rows. */
static int merge_glm(trainer *t, reader *r) {
  trainer *c = &r->t;
  t->nread += c->nread;
  ml_ksum_merge(&t->dev, &c->dev);
  ml_ksum_merge(&t->null_dev, &c->null_dev);
  ml_ksum_merge(&t->null_sw, &c->null_sw);
  ml_ksum_merge(&t->null_swz, &c->null_swz);
  ml_ksum_merge(&t->aic_sum, &c->aic_sum);
  for (int s = 0; s < 2; s++) {
    struct glm_metric *g = &t->gm[s];
    const struct glm_metric *h = &c->gm[s];
    ml_ksum_merge(&g->w, &h->w);
    ml_ksum_merge(&g->dev, &h->dev);
    ml_ksum_merge(&g->logloss, &h->logloss);
    ml_ksum_merge(&g->correct, &h->correct);
    ml_ksum_merge(&g->brier, &h->brier);
    t->again_n[s] += c->again_n[s];
  }
  t->bound_rows += c->bound_rows;
  t->again_rows += c->again_rows;
  int rc = ml_auc_merge(&t->auc, &c->auc);
  if (!rc && t->glm_accumulate) {
    int64_t n = t->glm_acc.n + c->glm_acc.n;
    rc = ml_lsq_merge_acc(&t->glm_acc, &c->glm_acc);
    t->glm_acc.n = n;
  }
  if (rc) ml_result_code(t->ctx, "ml_train", rc);
  return rc ? -1 : 0;
}

/*
** A pass by the readers, fn on each row (first_row, or an IRLS pass's,
** glm): as run_pass(t, fn) leaves the trainer, their rows merged in range
** order; or t->restart set (the first pass starts again); or -1 after
** reporting.
*/
int threads_pass(trainer *t, int (*fn)(trainer *), int glm) {
  struct ml_threads *p = t->par;
  t->nread = 0;
  int rc = prepare_readers(t, p);
  for (int i = 0; i < p->n; i++) {
    p->r[i].fn = fn;
    if (!rc && copy_trainer(t, &p->r[i], glm)) rc = ml_error_nomem(t->ctx);
  }
  if (!rc) rc = run_readers(t, p);
  int restart = 0;
  for (int i = 0; !rc && !glm && i < p->n; i++) restart |= learn_restart(t, &p->r[i]);
  for (int i = 0; !rc && !restart && i < p->n; i++)
    if (p->r[i].rc != SQLITE_DONE) rc = reader_error(t, &p->r[i]);
  for (int i = 0; !rc && !restart && i < p->n; i++)
    rc = glm ? merge_glm(t, &p->r[i]) : merge_first(t, &p->r[i]);
  for (int i = 0; i < p->n; i++) free_copy(t, &p->r[i]);
  return rc || restart ? -1 : 0;
}
