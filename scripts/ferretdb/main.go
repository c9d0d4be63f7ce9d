// Command ferretdb runs FerretDB v1 with its SQLite backend as vmflow's embedded MongoDB-wire
// database. Upstream's cmd/ferretdb panics when built with `go install` because
// build/version/version.txt is missing from module builds; the embeddable package does not read it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	addr := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	dir := flag.String("sqlite-dir", "./data/ferretdb", "directory for the SQLite database files")
	// Write transactions take SQLite's write lock when they begin (BEGIN IMMEDIATE) and so wait out
	// the busy timeout behind another writer; a deferred one that reads first fails at once with
	// SQLITE_BUSY when it tries to write while another writer holds the lock, and FerretDB passes
	// that to the client (issue 13: bursts of creates). FERRETDB_SQLITE_TXLOCK=deferred restores
	// SQLite's default, for comparison.
	txlock := flag.String("sqlite-txlock", envOr("FERRETDB_SQLITE_TXLOCK", "immediate"), "SQLite transaction locking: deferred, immediate or exclusive")
	flag.Parse()
	switch *txlock {
	case "deferred", "immediate", "exclusive":
	default:
		log.Fatalf("ferretdb: --sqlite-txlock must be deferred, immediate or exclusive, got %q", *txlock)
	}

	abs, err := filepath.Abs(*dir)
	if err != nil {
		log.Fatalf("ferretdb: bad --sqlite-dir: %v", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		log.Fatalf("ferretdb: cannot create %s: %v", abs, err)
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/?_txlock=" + *txlock,
	})
	if err != nil {
		log.Fatalf("ferretdb: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Printf("ferretdb listening on %s (sqlite %s, %s transactions)\n", *addr, abs, *txlock)
	if err := f.Run(ctx); err != nil {
		log.Fatalf("ferretdb: %v", err)
	}
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
