package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/aigate/aigate/gateway"
	"github.com/aigate/aigate/internal/logbuf"
	"github.com/aigate/aigate/server"
)

// startAigateInProcess serves what `aigate serve` serves, wired the same
// way (cmd/aigate/serve.go: the config's connection limits, the header-case
// listener, the batched JSON log) but in this process, so that a CPU profile of
// the bench sees it. Only -cpuprofile uses it.
func startAigateInProcess(ctx context.Context, m *manifest, up *Upstream) (Target, func(), error) {
	data := filepath.Join(m.Work, "aigate-inprocess-data")
	cfgPath := filepath.Join(m.Work, "aigate-inprocess.yaml")
	if err := os.WriteFile(cfgPath, []byte(aigateConfig(up)), 0o600); err != nil {
		return Target{}, nil, err
	}
	_, secret, err := createKey(ctx, m.Aigate, data)
	if err != nil {
		return Target{}, nil, err
	}
	cfg, err := server.LoadConfig(cfgPath)
	if err != nil {
		return Target{}, nil, err
	}
	logFile, err := os.Create(filepath.Join(m.Work, "logs", "aigate-inprocess.log"))
	if err != nil {
		return Target{}, nil, err
	}
	logOut := logbuf.New(logFile, 0, 0)
	logger := slog.New(logbuf.Handler(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: slog.LevelInfo}), logOut, slog.LevelWarn))
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		logFile.Close()
		return Target{}, nil, err
	}
	ln := gateway.PreserveHeaderCase(cfg.HTTP.Listener(tcp))
	srv, err := server.New(ctx, server.Options{
		Config: cfg, DataDir: data,
		IssuerURL: server.IssuerURLFor(ln.Addr().String()), Logger: logger,
	})
	if err != nil {
		ln.Close()
		logOut.Close()
		logFile.Close()
		return Target{}, nil, err
	}
	httpSrv := cfg.HTTP.HTTPServer(srv)
	httpSrv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	go func() {
		if err := httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("bench: in-process aigate", "error", err)
		}
	}()
	runCtx, stopRun := context.WithCancel(context.Background())
	go srv.Run(runCtx)
	stop := func() {
		stopRun()
		httpSrv.Close()
		srv.Close()
		logOut.Close()
		logFile.Close()
	}
	return Target{Name: "aigate (in process)", URL: "http://" + ln.Addr().String() + "/v1/chat/completions",
		Headers: map[string]string{"Authorization": "Bearer " + secret}, Body: requestBody}, stop, nil
}
