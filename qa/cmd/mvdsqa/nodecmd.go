package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/qanode"
)

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// runNode is `mvdsqa node`: one QA node in this process until SIGINT or
// SIGTERM. Its first line on stdout is its description as JSON (with the
// API's address), for whoever started it; logs go to stderr.
func runNode(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg qanode.Config
	var policies, peers listFlag
	fs.StringVar(&cfg.Name, "name", "node", "name shown in /v1/health and logs")
	fs.StringVar(&cfg.Dir, "data", "", "data directory: node.db (SQLite) and node.key (created on first start); required")
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:0", "Waku TCP address")
	fs.StringVar(&cfg.API, "api", "127.0.0.1:0", "REST API address")
	tokenFile := fs.String("token-file", "", "file holding the API's bearer token (or set MVDSQA_TOKEN)")
	fs.StringVar(&cfg.Light, "light", "", "run as a light client of the service node at this multiaddr (.../p2p/<id>)")
	fs.BoolVar(&cfg.Service, "service", false, "serve light clients (light push and filter)")
	fs.BoolVar(&cfg.Stock, "stock", false, "run status-go's stock configuration (no Guard)")
	fs.DurationVar(&cfg.Epoch, "epoch", 0, "mvds epoch (default 300ms, status-go's)")
	fs.Var(&policies, "policy", "override a policy: flow[/kind]:field=value,... (repeatable; fields initial, max, multiplier, attempts, deadline, stall)")
	fs.Var(&peers, "peer", "multiaddr of a peer to dial and keep connected (repeatable)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "node: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if cfg.Dir == "" {
		fmt.Fprintln(stderr, "node: -data is required")
		return 2
	}
	for _, p := range policies {
		o, err := qanode.ParsePolicyOverride(p)
		if err != nil {
			fmt.Fprintf(stderr, "node: -policy: %v\n", err)
			return 2
		}
		cfg.Policies = append(cfg.Policies, o)
	}
	cfg.Peers = peers
	cfg.Token = os.Getenv("MVDSQA_TOKEN")
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			fmt.Fprintf(stderr, "node: -token-file: %v\n", err)
			return 2
		}
		cfg.Token = strings.TrimSpace(string(b))
	}
	if err := cfg.Check(); err != nil {
		fmt.Fprintf(stderr, "node: %v\n", err)
		return 2
	}
	if err := checkExposure(cfg.API, cfg.Token); err != nil {
		fmt.Fprintf(stderr, "node: %v\n", err)
		return 2
	}
	var lvl zapcore.Level
	if err := lvl.Set(*level); err != nil {
		fmt.Fprintf(stderr, "node: -log-level: %v\n", err)
		return 2
	}
	enc := zap.NewDevelopmentEncoderConfig()
	cfg.Logger = zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(stderr), lvl))
	defer func() { _ = cfg.Logger.Sync() }()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	n, err := qanode.Start(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "node: %v\n", err)
		return 1
	}
	b, _ := json.Marshal(n.Info())
	fmt.Fprintf(stdout, "%s\n", b)
	<-ctx.Done()
	if err := n.Close(); err != nil {
		fmt.Fprintf(stderr, "node: %v\n", err)
		return 1
	}
	return 0
}

// checkExposure refuses to serve the API beyond this machine without a
// token: whoever reaches it can send as this node and take it offline.
func checkExposure(addr, token string) error {
	if addr == "-" || token != "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-api %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return errors.New("-api on a non-loopback address needs a bearer token (MVDSQA_TOKEN or -token-file): the API can send as this node")
}
