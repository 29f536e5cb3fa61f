/*
** sqlml linked statically into a C application: train a model, predict
** inside an ordinary query, read the registry.  From the repository root:
**   make && cc -Idist -o app examples/c/app.c dist/libsqlml.a -lsqlite3 -llapacke -lblas -lm
** or, after make install:
**   cc -o app examples/c/app.c $(pkg-config --cflags --libs sqlml)
*/
#include <stdio.h>
#include <sqlite3.h>
#include <sqlml.h>

/* sqlite3_exec's callback: each query below makes one line of text a row. */
static int print_line(void *unused, int ncol, char **text, char **names) {
  (void)unused, (void)ncol, (void)names;
  puts(text[0]);
  return 0;
}

int main(void) {
  /* Every connection opened from now on has the ml_* functions, without
  ** load_extension.  sqlite3_auto_extension() takes a void (*)(void);
  ** SQLite casts it back to the entry point's real type (see sqlml.h). */
  sqlite3_auto_extension((void (*)(void))sqlite3_sqlml_init);

  sqlite3 *db; /* ":memory:", or a file: the models are stored in it */
  char *err = NULL;
  int rc = sqlite3_open(":memory:", &db);
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(db,
        "CREATE TABLE houses(id INTEGER PRIMARY KEY, price REAL, sqft REAL, rooms REAL, city TEXT);"
        "INSERT INTO houses(price, sqft, rooms, city) VALUES"
        "  (300, 1400, 3, 'a'), (410, 2000, 4, 'a'), (250, 1100, 2, 'b'), (520, 2600, 5, 'b'),"
        "  (330, 1500, 3, 'a'), (480, 2300, 4, 'b'), (365, 1750, 3, 'b'), (290, 1300, 2, 'a');"
        /* Train: the next version of 'house_price' in this database's registry. */
        "SELECT printf('trained %s version %d on %d rows; test r2 %.4f on %d rows',"
        "  json_extract(s, '$.model'), json_extract(s, '$.version'),"
        "  json_extract(s, '$.n_train'), json_extract(s, '$.metrics.test.r2'),"
        "  json_extract(s, '$.n_test'))"
        "  FROM (SELECT ml_train('house_price', 'houses', 'price', '[\"sqft\",\"rooms\"]',"
        "                        '{\"test_size\":0.25,\"seed\":42}') AS s);"
        /* Predict inside a query, by the model's name (its latest version). */
        "SELECT printf('house %d: %.0f sqft, %.0f rooms: predicted price %.2f',"
        "  id, sqft, rooms, ml_predict('house_price', sqft, rooms))"
        "  FROM houses WHERE city = 'b' ORDER BY id;"
        /* The registry: one row per model version. */
        "SELECT printf('model %s@%d: %d training rows, test r2 %.4f',"
        "  name, version, n_train, r2_test) FROM ml_models;",
        print_line, NULL, &err);
  if (rc != SQLITE_OK) fprintf(stderr, "app: %s\n", err ? err : sqlite3_errmsg(db));
  sqlite3_free(err);
  sqlite3_close(db);
  return rc != SQLITE_OK;
}
