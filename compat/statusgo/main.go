package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func main() {
	dir := flag.String("dir", "", "`directory` for the two databases (default: a temporary one, removed afterwards)")
	verbose := flag.Bool("v", false, "log the Guards' and engines' info messages to stderr")
	timeout := flag.Duration("timeout", 2*time.Minute, "give up after this `duration`")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: statusgo [-dir directory] [-v] [-timeout duration]\n\n"+
			"Runs two Guards on SQLCipher-encrypted databases set up as status-go sets up its own,\n"+
			"and exits 0 only if delivery, failure, Retry and encryption all hold.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	os.Exit(mainErr(*dir, *verbose, *timeout))
}

func mainErr(dir string, verbose bool, timeout time.Duration) int {
	level := zapcore.WarnLevel
	if verbose {
		level = zapcore.InfoLevel
	}
	cfg := zap.NewDevelopmentConfig()
	cfg.Level = zap.NewAtomicLevelAt(level)
	logger, err := cfg.Build()
	if err != nil {
		fmt.Fprintf(os.Stderr, "statusgo: logger: %v\n", err)
		return 1
	}
	defer func() { _ = logger.Sync() }()
	if dir == "" {
		if dir, err = os.MkdirTemp("", "mvdsguard-statusgo-"); err != nil {
			fmt.Fprintf(os.Stderr, "statusgo: %v\n", err)
			return 1
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		fmt.Fprintf(os.Stderr, "statusgo: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := run(ctx, dir, os.Stdout, logger.Named("statusgo")); err != nil {
		fmt.Fprintf(os.Stdout, "FAIL: %v\n", err)
		return 1
	}
	fmt.Fprintln(os.Stdout, "ok: the core works as status-go would use it, at status-go's versions")
	return 0
}
