package main

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

//go:embed loopback.cjs
var loopbackPreload []byte

// requestBody is the chat completion every target gets.
var requestBody = []byte(`{"model":"bench-model","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hello to the benchmark."}],"max_tokens":16}`)

// directTarget is the upstream itself.
func directTarget(up *Upstream) Target {
	return Target{Name: "direct", URL: up.URL + "/v1/chat/completions",
		Headers: map[string]string{"Authorization": "Bearer sk-bench"}, Body: requestBody}
}

// aigateConfig routes bench-model to the upstream.
func aigateConfig(up *Upstream) string {
	return fmt.Sprintf(`aiapi:
  providers:
    up: {type: openai, baseUrl: %s/v1}
  models:
    - {name: bench-model, provider: up}
`, up.URL)
}

// createKey runs `aigate keys create` in dataDir with limits that never
// trigger (so the quota path runs in full) and returns the secret.
func createKey(ctx context.Context, aigate, dataDir string) (id, secret string, err error) {
	const never = "1000000000000"
	out, err := run(ctx, []string{"AIGATE_DATA=" + dataDir}, "", aigate, "keys", "create", "--json",
		"--name", "bench", "--models", "*", "--rpm", never, "--tpm", never,
		"--tokens-per-day", never, "--tokens-per-month", never)
	if err != nil {
		return "", "", err
	}
	var k struct{ ID, Key string }
	if err := json.Unmarshal(out, &k); err != nil || k.Key == "" {
		return "", "", fmt.Errorf("bench: aigate keys create printed %q (%v)", out, err)
	}
	return k.ID, k.Key, nil
}

// startAigate runs `aigate serve` with a fresh data directory under work.
func startAigate(ctx context.Context, ps *Procs, work, aigate string, up *Upstream) (*Proc, Target, error) {
	data := filepath.Join(work, "aigate-data")
	cfg := filepath.Join(work, "aigate.yaml")
	if err := os.WriteFile(cfg, []byte(aigateConfig(up)), 0o600); err != nil {
		return nil, Target{}, err
	}
	_, secret, err := createKey(ctx, aigate, data)
	if err != nil {
		return nil, Target{}, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, Target{}, err
	}
	p, err := ps.Start("aigate serve", []string{"AIGATE_DATA=" + data}, "", aigate, "serve", "--addr", addr, "--config", cfg)
	if err != nil {
		return nil, Target{}, err
	}
	if err := p.WaitHTTP(ctx, "http://"+addr+"/healthz", 15*time.Second); err != nil {
		return p, Target{}, err
	}
	return p, Target{Name: "aigate", URL: "http://" + addr + "/v1/chat/completions",
		Headers: map[string]string{"Authorization": "Bearer " + secret}, Body: requestBody}, nil
}

// startPortkey runs the pinned @portkey-ai/gateway from node_modules,
// listening on 127.0.0.1 only, routed to the upstream by headers.
func startPortkey(ctx context.Context, ps *Procs, work, repo string, up *Upstream) (*Proc, Target, error) {
	preload := filepath.Join(work, "loopback.cjs")
	if err := os.WriteFile(preload, loopbackPreload, 0o644); err != nil {
		return nil, Target{}, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, Target{}, err
	}
	_, port, _ := net.SplitHostPort(addr)
	p, err := ps.Start("portkey", []string{"NODE_OPTIONS=--require=" + preload}, repo,
		"node", portkeyServer, "--port="+port, "--headless")
	if err != nil {
		return nil, Target{}, err
	}
	if err := p.WaitListening(ctx, addr, 20*time.Second); err != nil {
		return p, Target{}, err
	}
	if err := onlyLoopback(port); err != nil {
		return p, Target{}, err
	}
	return p, Target{Name: "portkey", URL: "http://" + addr + "/v1/chat/completions",
		Headers: map[string]string{
			"Authorization":         "Bearer sk-bench",
			"x-portkey-provider":    "openai",
			"x-portkey-custom-host": up.URL + "/v1",
		}, Body: requestBody}, nil
}

// portkeyServer is Portkey's Node entry point, relative to the repository.
const portkeyServer = "node_modules/@portkey-ai/gateway/build/start-server.js"

// onlyLoopback checks in the kernel's socket table that whatever listens on
// port listens on 127.0.0.1 alone.
func onlyLoopback(port string) error {
	want, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return err
	}
	seen := 0
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			host, hexPort, ok := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 16); !ok || err != nil || p != want {
				continue
			}
			seen++
			if host != "0100007F" { // 127.0.0.1, little-endian
				f.Close()
				return fmt.Errorf("bench: port %s listens on %s (%s), not only on 127.0.0.1", port, host, table)
			}
		}
		f.Close()
	}
	if seen == 0 {
		return fmt.Errorf("bench: nothing listens on port %s", port)
	}
	return nil
}
