// sqlml-node: a dqlite node whose SQLite connections have sqlml, and a small
// client for such a cluster.  See docs/scale-out.md.
//
//	sqlml-node serve -dir DIR -address 127.0.0.1:9001 [-join 127.0.0.1:9002,...]
//	sqlml-node sql -cluster ADDR,... [-db sqlml] [-timeout 10s] STATEMENT...
//	sqlml-node leader -cluster ADDR,...
//	sqlml-node nodes -cluster ADDR,...
//	sqlml-node transfer -cluster ADDR,... -to ID
//
// TLS is off, so every address must be a loopback address: this program
// refuses any other.  serve prints one line, "ready id=N address=A", once the
// node has joined; SIGTERM or SIGINT hands leadership over and stops it.
//
// sql runs each STATEMENT in order on one connection to the leader (a client
// may name any node: it asks them who leads), so "BEGIN" "SELECT ml_train(...)"
// "COMMIT" is one transaction.  Statements that start with SELECT, WITH,
// VALUES or PRAGMA are queries, others are executed; a leading "exec:"
// executes a query (dqlite 1.11 reports a query's error by the name of its
// first column: docs/scale-out.md).  It prints one JSON line per statement:
// {"rows":[[...],...]}, {"changes":N} or {"error":"...","code":N} (with a
// "hint" when the message looks like that column name), with BLOBs as
// {"hex":"..."}, and exits 1 if any statement failed.
package main

/*
#include <sqlite3.h>
#include <sqlml.h>

// The cast is defined by C11 6.3.2.3; SQLite casts it back (docs/apps.md, C).
static int register_sqlml(void) {
	return sqlite3_auto_extension((void (*)(void))sqlite3_sqlml_init);
}
*/
import "C"

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/canonical/go-dqlite/app"
	"github.com/canonical/go-dqlite/client"
	"github.com/canonical/go-dqlite/driver"
)

// The SHA-256 of the libsqlml.a linked in, set by the Makefile (-ldflags -X).
var libsqlmlHash string

func usage() {
	fmt.Fprintf(os.Stderr, `usage:
  sqlml-node serve -dir DIR -address 127.0.0.1:PORT [-join ADDR,...] [-latency 5ms] [-v]
  sqlml-node sql -cluster ADDR,... [-db sqlml] [-timeout 10s] STATEMENT...
  sqlml-node leader -cluster ADDR,...
  sqlml-node nodes -cluster ADDR,...
  sqlml-node transfer -cluster ADDR,... -to ID
libsqlml.a: sha256 %s
`, libsqlmlHash)
	os.Exit(2)
}

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "sqlml-node: "+format+"\n", a...)
	os.Exit(1)
}

// TLS is off: a node or client that reached beyond this machine would send
// the database in clear, so only loopback addresses are accepted.
func loopbackOnly(addrs []string) {
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			fail("%q is not HOST:PORT: %v", a, err)
		}
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			fail("%q is not a loopback address: TLS is off, so nodes listen and connect on "+
				"127.0.0.1 (or another loopback address) only", a)
		}
	}
}

func splitList(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "serve":
		serve(os.Args[2:])
	case "sql":
		runSQL(os.Args[2:])
	case "leader", "nodes", "transfer":
		admin(os.Args[1], os.Args[2:])
	default:
		usage()
	}
}

func serve(args []string) {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	dir := fs.String("dir", "", "data directory of this node (created if missing)")
	address := fs.String("address", "", "address to listen on, 127.0.0.1:PORT")
	join := fs.String("join", "", "addresses of running nodes, to join their cluster")
	latency := fs.Duration("latency", 0, "one-way network latency; Raft's timeouts scale with it")
	verbose := fs.Bool("v", false, "log dqlite's messages to stderr")
	fs.Parse(args)
	if *dir == "" || *address == "" {
		usage()
	}
	cluster := splitList(*join)
	loopbackOnly(append([]string{*address}, cluster...))

	// After go-dqlite's init has put SQLite in multi-thread mode (which must
	// come before sqlite3_initialize), before dqlite opens a connection.
	if rc := C.register_sqlml(); rc != C.SQLITE_OK {
		fail("sqlite3_auto_extension(sqlite3_sqlml_init): %d", int(rc))
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fail("%v", err)
	}
	logf := func(l client.LogLevel, format string, a ...interface{}) {
		if *verbose || l >= client.LogWarn {
			fmt.Fprintf(os.Stderr, "%s: %s: %s\n", *address, l.String(), fmt.Sprintf(format, a...))
		}
	}
	opts := []app.Option{app.WithAddress(*address), app.WithCluster(cluster), app.WithLogFunc(logf)}
	if *latency > 0 {
		opts = append(opts, app.WithNetworkLatency(*latency))
	}
	node, err := app.New(*dir, opts...)
	if err != nil {
		fail("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	err = node.Ready(ctx)
	cancel()
	if err != nil {
		fail("node %s not ready: %v", *address, err)
	}
	fmt.Printf("ready id=%d address=%s\n", node.ID(), node.Address())
	os.Stdout.Sync()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	node.Handover(ctx)
	cancel()
	node.Close()
}

func store(addrs string) client.NodeStore {
	list := splitList(addrs)
	if len(list) == 0 {
		usage()
	}
	loopbackOnly(list)
	infos := make([]client.NodeInfo, len(list))
	for i, a := range list {
		infos[i] = client.NodeInfo{Address: a}
	}
	s := client.NewInmemNodeStore()
	s.Set(context.Background(), infos)
	return s
}

func isQuery(stmt string) bool {
	f := strings.Fields(stmt)
	if len(f) == 0 {
		return false
	}
	switch strings.ToUpper(f[0]) {
	case "SELECT", "WITH", "VALUES", "PRAGMA":
		return true
	}
	return false
}

// JSON for one SQLite value; float64 prints its shortest exact form.
func jsonValue(v interface{}) interface{} {
	if b, ok := v.([]byte); ok {
		return map[string]string{"hex": hex.EncodeToString(b)}
	}
	if t, ok := v.(time.Time); ok {
		return t.Format(time.RFC3339Nano)
	}
	return v
}

func errorLine(err error) map[string]interface{} {
	var de driver.Error
	if errors.As(err, &de) {
		return map[string]interface{}{"error": de.Message, "code": de.Code}
	}
	return map[string]interface{}{"error": err.Error(), "code": -1}
}

func runSQL(args []string) {
	fs := flag.NewFlagSet("sql", flag.ExitOnError)
	addrs := fs.String("cluster", "", "addresses of nodes, any of them")
	dbname := fs.String("db", "sqlml", "database name")
	timeout := fs.Duration("timeout", 10*time.Second, "time for all the statements")
	fs.Parse(args)
	drv, err := driver.New(store(*addrs), driver.WithLogFunc(func(client.LogLevel, string, ...interface{}) {}))
	if err != nil {
		fail("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	connector, err := drv.OpenConnector(*dbname)
	if err != nil {
		fail("%v", err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		fail("connect: %v", err)
	}
	defer conn.Close()
	out := json.NewEncoder(os.Stdout)
	failed := false
	for _, stmt := range fs.Args() {
		var line map[string]interface{}
		if strings.HasPrefix(stmt, "exec:") || !isQuery(stmt) {
			res, err := conn.ExecContext(ctx, strings.TrimPrefix(stmt, "exec:"))
			if err != nil {
				line = errorLine(err)
			} else {
				n, _ := res.RowsAffected()
				line = map[string]interface{}{"changes": n}
			}
		} else {
			line = query(ctx, conn, stmt)
			// dqlite 1.11 sends a failed query's first column name as its
			// message (docs/scale-out.md); that name is often the call itself.
			if msg, bad := line["error"].(string); bad && msg != "" && strings.Contains(stmt, msg) {
				line["hint"] = "dqlite 1.11 reports a failed query by the name of its first " +
					"column; run it as exec:" + stmt + " to read the message"
			}
		}
		if _, bad := line["error"]; bad {
			failed = true
		}
		if err := out.Encode(line); err != nil {
			fail("%v", err)
		}
	}
	if failed {
		os.Exit(1)
	}
}

func query(ctx context.Context, conn *sql.Conn, stmt string) map[string]interface{} {
	rows, err := conn.QueryContext(ctx, stmt)
	if err != nil {
		return errorLine(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return errorLine(err)
	}
	all := [][]interface{}{}
	for rows.Next() {
		vals := make([]interface{}, len(cols))
		ptrs := make([]interface{}, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return errorLine(err)
		}
		for i := range vals {
			vals[i] = jsonValue(vals[i])
		}
		all = append(all, vals)
	}
	if err := rows.Err(); err != nil {
		return errorLine(err)
	}
	return map[string]interface{}{"rows": all}
}

func admin(cmd string, args []string) {
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	addrs := fs.String("cluster", "", "addresses of nodes, any of them")
	to := fs.Uint64("to", 0, "transfer: the ID of the node to lead")
	timeout := fs.Duration("timeout", 10*time.Second, "time to get an answer")
	fs.Parse(args)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	cli, err := client.FindLeader(ctx, store(*addrs), client.WithLogFunc(func(client.LogLevel, string, ...interface{}) {}))
	if err != nil {
		fail("find leader: %v", err)
	}
	defer cli.Close()
	out := json.NewEncoder(os.Stdout)
	switch cmd {
	case "leader":
		info, err := cli.Leader(ctx)
		if err != nil {
			fail("leader: %v", err)
		}
		out.Encode(map[string]interface{}{"id": info.ID, "address": info.Address})
	case "nodes":
		nodes, err := cli.Cluster(ctx)
		if err != nil {
			fail("nodes: %v", err)
		}
		list := []map[string]interface{}{}
		for _, n := range nodes {
			list = append(list, map[string]interface{}{"id": n.ID, "address": n.Address, "role": n.Role.String()})
		}
		out.Encode(list)
	case "transfer":
		if *to == 0 {
			usage()
		}
		if err := cli.Transfer(ctx, *to); err != nil {
			fail("transfer to %d: %v", *to, err)
		}
	}
}
