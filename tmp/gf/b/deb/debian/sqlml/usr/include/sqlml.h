/*
** sqlml.h: the public header of sqlml, linear regression inside SQLite.
** Installed as <sqlml.h> beside libsqlml.a, for applications that link sqlml
** statically instead of loading dist/sqlml.so with load_extension.
**
** One function: the extension's entry point.  Register it once, before any
** connection is opened, and every connection the application opens has the
** ml_* functions (no load_extension, which can stay disabled):
**
**   #include <sqlite3.h>
**   #include <sqlml.h>
**
**   sqlite3_auto_extension((void (*)(void))sqlite3_sqlml_init);
**
** The cast is needed, and safe.  sqlite3_auto_extension() is declared with
** a generic `void (*)(void)` parameter, but SQLite stores the pointer and
** converts it back to `int (*)(sqlite3 *, char **, const
** sqlite3_api_routines *)`, the type declared below, before each call: the
** function is called through its real type, and converting a function
** pointer to another function pointer type and back is defined by C11
** 6.3.2.3p8.  (gcc's -Wcast-function-type accepts a cast to void (*)(void).)
**
** Or, for one connection only: sqlite3_sqlml_init(db, &errmsg, NULL) right
** after sqlite3_open_v2(); it returns SQLITE_OK, or an error code with a
** message in *errmsg to free with sqlite3_free().
**
** Link: cc app.c $(pkg-config --cflags --libs sqlml)
**   (= -lsqlml -llapacke -lblas -lm -lsqlite3: libsqlml.a exports this one symbol
**   and calls the application's SQLite, LAPACKE and libm).
*/
#ifndef SQLML_H
#define SQLML_H

#include <sqlite3.h>

#ifdef __cplusplus
extern "C" {
#endif

int sqlite3_sqlml_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);

#ifdef __cplusplus
}
#endif

#endif
