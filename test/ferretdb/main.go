// Command ngferretdb runs FerretDB (SQLite handler) embedded, as the
// MongoDB-wire server used by nutragenie's tests, demo and benchmarks.
//
// It listens on a loopback address (port 0 picks a free one), writes the
// MongoDB connection string to -uri-file once the listener is up, and exits
// cleanly on SIGTERM or SIGINT.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "TCP address to listen on")
	dataDir := flag.String("data", "", "directory for the SQLite databases (required)")
	uriFile := flag.String("uri-file", "", "file to write the MongoDB URI to once listening")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn, error")
	flag.Parse()

	if *dataDir == "" {
		log.Fatal("-data is required")
	}
	abs, err := filepath.Abs(*dataDir)
	if err != nil {
		log.Fatal(err)
	}
	if err = os.MkdirAll(abs, 0o700); err != nil {
		log.Fatal(err)
	}

	var level slog.Level
	if err = level.UnmarshalText([]byte(*logLevel)); err != nil {
		log.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// After the first signal, restore the default action so that a second
	// one kills the process even if shutting down hangs.
	go func() {
		<-ctx.Done()
		stop()
	}()

	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := f.Run(ctx); err != nil {
			logger.Error("ferretdb stopped", "error", err)
		}
	}()

	// MongoDBURI waits until the listener is bound.
	uri := f.MongoDBURI()
	if *uriFile != "" {
		tmp := *uriFile + ".tmp"
		if err = os.WriteFile(tmp, []byte(uri+"\n"), 0o644); err != nil {
			log.Fatal(err)
		}
		if err = os.Rename(tmp, *uriFile); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(uri)

	<-done
}
