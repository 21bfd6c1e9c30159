package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/cmd/internal/env"
	"github.com/aigate/aigate/duration"
	"github.com/aigate/aigate/gateway"
	"github.com/aigate/aigate/internal/logbuf"
	"github.com/aigate/aigate/server"
)

// serveGCPercent is serve's garbage-collection target unless GOGC is set.
const serveGCPercent = 400

// drainTimeout bounds how long SIGTERM waits for in-flight requests.
const drainTimeout = 30 * time.Second

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s env.Settings
	fs := newFlagSet("serve", stderr, &s)
	addr := fs.String("addr", envOr("AIGATE_ADDR", "127.0.0.1:8080"), "listen address (env AIGATE_ADDR)")
	configPath := fs.String("config", os.Getenv("AIGATE_CONFIG"), "config file (env AIGATE_CONFIG; default: the built-in API)")
	metricsAddr := fs.String("metrics-addr", os.Getenv("AIGATE_METRICS_ADDR"), "serve Prometheus metrics at http://ADDR/metrics (env AIGATE_METRICS_ADDR)")
	logLevel := fs.String("log-level", envOr("AIGATE_LOG_LEVEL", "info"), "debug, info, warn or error (env AIGATE_LOG_LEVEL)")
	limits := limitFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("serve takes no arguments, got %q", pos[0])
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageErr("--log-level: %q is not debug, info, warn or error", *logLevel)
	}
	// The server's live heap is small (a few MiB: keys, windows, pooled
	// buffers) and every request allocates ~30 kB, so at Go's default
	// GOGC=100 the collector runs often: at 400 a request costs ~14 % less
	// CPU (BenchmarkServeChat: 227 → 196 µs/op) for a few more MiB of heap.
	// GOGC in the environment, as always, wins.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serveGCPercent)
	}
	cfg := server.DefaultConfig()
	if *configPath != "" {
		if cfg, err = server.LoadConfig(*configPath); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	if cfg.HTTP, err = applyLimitFlags(fs, limits, cfg.HTTP); err != nil {
		return err
	}
	// Log lines (two per request) leave in batches, not one write(2) each:
	// Info lines wait at most logbuf.DefaultInterval (100 ms) and are lost
	// for that long if the process dies without returning from here
	// (kill -9); warnings and errors are written at once, with all before
	// them. The usage ledger never depends on them.
	logOut := logbuf.New(stderr, 0, 0)
	defer logOut.Close()
	logger := slog.New(logbuf.Handler(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: level}), logOut, slog.LevelWarn))

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("serve: %w", err)}
	}
	defer ln.Close()
	ln = gateway.PreserveHeaderCase(cfg.HTTP.Listener(ln))
	var reg *prometheus.Registry
	if *metricsAddr != "" {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	srv, err := server.New(ctx, server.Options{
		Config:    cfg,
		DataDir:   s.DataDir,
		StoreURL:  s.StoreURL,
		HashKey:   s.HashKey,
		OpenAI:    aiapi.OpenAIUpstream(s.OpenAI),
		IssuerURL: server.IssuerURLFor(ln.Addr().String()),
		Logger:    logger,
		Metrics:   registererOrNil(reg),
		// The upstreams' keys are read here, by the command, never by
		// the libraries.
		LookupSecret: os.LookupEnv,
	})
	if err != nil {
		return err
	}
	defer srv.Close()

	base := "http://" + ln.Addr().String()
	if err := writeServeAddr(s.DataDir, ln.Addr().String()); err != nil {
		logger.Warn("aigate serve: could not record the listen address for aigate token", "error", err)
	}
	fmt.Fprintf(stdout, "aigate serve: listening on %s (data %s)\n", base, s.DataDir)
	first, err := srv.EnsureKey(ctx)
	if err != nil {
		return err
	}
	if first != nil {
		fmt.Fprintf(stdout, "\nThe store had no keys, so here is a first one (models *, no limits). It is shown only once:\n\n    %s\n\nTry it:\n\n    curl -H 'Authorization: Bearer %s' %s/v1/models\n\n",
			first.Secret, first.Secret, base)
	}

	httpSrv := cfg.HTTP.HTTPServer(srv)
	httpSrv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	errc := make(chan error, 3)
	go func() { errc <- httpSrv.Serve(ln) }()
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	go func() {
		if err := srv.Run(runCtx); err != nil {
			errc <- err
		}
	}()
	var metricsSrv *http.Server
	if reg != nil {
		mln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("serve: metrics: %w", err)}
		}
		metricsSrv = cfg.HTTP.HTTPServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		go func() { errc <- metricsSrv.Serve(cfg.HTTP.Listener(mln)) }()
		fmt.Fprintf(stdout, "aigate serve: metrics on http://%s/metrics\n", mln.Addr())
	}

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Drain: stop accepting, let in-flight requests finish, then exit 0.
	logger.Info("aigate serve: shutting down, draining in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	err = httpSrv.Shutdown(sctx)
	if metricsSrv != nil {
		metricsSrv.Shutdown(sctx)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: drain: %w", err)
	}
	return nil
}

// limitFlags registers the flags that override the config's http section
// (server.Limits), with the defaults shown in --help.
func limitFlags(fs *flag.FlagSet) *server.Limits {
	l := server.DefaultLimits() // the defaults --help shows
	fs.Var(&l.ReadHeaderTimeout, "read-header-timeout", "time to read a request's headers (config http.readHeaderTimeout)")
	fs.Var(&l.ReadTimeout, "read-timeout", "time to read a whole request, body included (config http.readTimeout)")
	fs.Var(&l.WriteTimeout, "write-timeout", "time to write a response from its first byte; streams extend it per event (config http.writeTimeout)")
	fs.Var(&l.IdleTimeout, "idle-timeout", "time a keep-alive connection may wait for its next request (config http.idleTimeout)")
	fs.IntVar(&l.MaxConnections, "max-connections", l.MaxConnections, "connections open at once; more are answered 503 (config http.maxConnections)")
	return &l
}

// applyLimitFlags returns cfg with the limit flags given on the command
// line in its place, and the defaults for what neither sets.
func applyLimitFlags(fs *flag.FlagSet, flags *server.Limits, cfg server.Limits) (server.Limits, error) {
	durations := map[string][2]*duration.Duration{
		"read-header-timeout": {&flags.ReadHeaderTimeout, &cfg.ReadHeaderTimeout},
		"read-timeout":        {&flags.ReadTimeout, &cfg.ReadTimeout},
		"write-timeout":       {&flags.WriteTimeout, &cfg.WriteTimeout},
		"idle-timeout":        {&flags.IdleTimeout, &cfg.IdleTimeout},
	}
	var err error
	fs.Visit(func(f *flag.Flag) {
		switch d, ok := durations[f.Name]; {
		case err != nil:
		case ok && *d[0] <= 0:
			err = usageErr("--%s: %v: must be above 0", f.Name, *d[0])
		case ok:
			*d[1] = *d[0]
		case f.Name == "max-connections" && flags.MaxConnections <= 0:
			err = usageErr("--max-connections: %d: must be above 0", flags.MaxConnections)
		case f.Name == "max-connections":
			cfg.MaxConnections = flags.MaxConnections
		}
	})
	return cfg.WithDefaults(), err
}

func registererOrNil(r *prometheus.Registry) prometheus.Registerer {
	if r == nil {
		return nil
	}
	return r
}

// serveAddrFile, in the data directory, holds the address the last `aigate
// serve` listened on, so that `aigate token` names the issuer that serve
// trusts without repeating --addr.
const serveAddrFile = "serve.addr"

func writeServeAddr(dataDir, addr string) error {
	if dataDir == "" {
		return nil
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dataDir, serveAddrFile), []byte(addr+"\n"), 0o600)
}

// readServeAddr returns the recorded address, or "" when there is none.
func readServeAddr(dataDir string) string {
	b, err := os.ReadFile(filepath.Join(dataDir, serveAddrFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
