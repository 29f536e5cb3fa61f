// sqlml from Go with github.com/mattn/go-sqlite3: train a model, predict
// inside an ordinary query, read the registry.  From the repository root,
// after make, with Debian's golang-go and golang-github-mattn-go-sqlite3-dev:
//
//	GO111MODULE=off GOPATH=$HOME/go:/usr/share/gocode go run -tags libsqlite3 ./examples/go
package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"log"
	"os"

	"github.com/mattn/go-sqlite3"
)

func main() {
	extension := "dist/sqlml" // SQLite adds the .so; the .deb's is /usr/lib/sqlite3/sqlml
	if len(os.Args) > 1 {
		extension = os.Args[1]
	}
	// A driver whose every connection loads sqlml; load_extension() stays
	// off for SQL.
	sql.Register("sqlite3_sqlml", &sqlite3.SQLiteDriver{Extensions: []string{extension}})

	db, err := sql.Open("sqlite3_sqlml", ":memory:") // or a file: the models are stored in it
	check(err)
	defer db.Close()
	db.SetMaxOpenConns(1) // each connection to ":memory:" would be a database of its own

	_, err = db.Exec(`CREATE TABLE houses(id INTEGER PRIMARY KEY, price REAL, sqft REAL,
	  rooms REAL, city TEXT);
	INSERT INTO houses(price, sqft, rooms, city) VALUES
	  (300, 1400, 3, 'a'), (410, 2000, 4, 'a'), (250, 1100, 2, 'b'), (520, 2600, 5, 'b'),
	  (330, 1500, 3, 'a'), (480, 2300, 4, 'b'), (365, 1750, 3, 'b'), (290, 1300, 2, 'a')`)
	check(err)

	// Train: the next version of 'house_price' in this database's registry.
	var summary string
	check(db.QueryRow("SELECT ml_train('house_price', 'houses', 'price', ?, ?)",
		`["sqft","rooms"]`, `{"test_size":0.25,"seed":42}`).Scan(&summary))
	var s struct {
		Model   string `json:"model"`
		Version int    `json:"version"`
		NTrain  int    `json:"n_train"`
		NTest   int    `json:"n_test"`
		Metrics struct {
			Test struct {
				R2 float64 `json:"r2"`
			} `json:"test"`
		} `json:"metrics"`
	}
	check(json.Unmarshal([]byte(summary), &s))
	fmt.Printf("trained %s version %d on %d rows; test r2 %.4f on %d rows\n",
		s.Model, s.Version, s.NTrain, s.Metrics.Test.R2, s.NTest)

	// Predict inside a query, by the model's name (its latest version).
	rows, err := db.Query("SELECT id, sqft, rooms, ml_predict('house_price', sqft, rooms) " +
		"FROM houses WHERE city = 'b' ORDER BY id")
	check(err)
	for rows.Next() {
		var id int
		var sqft, rooms, predicted float64
		check(rows.Scan(&id, &sqft, &rooms, &predicted))
		fmt.Printf("house %d: %.0f sqft, %.0f rooms: predicted price %.2f\n", id, sqft, rooms, predicted)
	}
	check(rows.Err())

	// The registry: one row per model version.
	rows, err = db.Query("SELECT name, version, n_train, r2_test FROM ml_models")
	check(err)
	for rows.Next() {
		var name string
		var version, nTrain int
		var r2Test float64
		check(rows.Scan(&name, &version, &nTrain, &r2Test))
		fmt.Printf("model %s@%d: %d training rows, test r2 %.4f\n", name, version, nTrain, r2Test)
	}
	check(rows.Err())
}

func check(err error) {
	if err != nil {
		log.Fatal("app: ", err)
	}
}
