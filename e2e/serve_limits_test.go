package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rawConn dials the server with a deadline: a test that waits for the
// server to close a connection fails instead of hanging.
func rawConn(t *testing.T, base string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func rawRequest(t *testing.T, c net.Conn, br *bufio.Reader, raw string) *http.Response {
	t.Helper()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func writeConfig(t *testing.T, doc string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "aigate.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServeLimitFlagsOverrideTheConfigSection: a flag replaces its field
// of the config's http section; the fields no flag names stay.
func TestServeLimitFlagsOverrideTheConfigSection(t *testing.T) {
	t.Run("flag over config", func(t *testing.T) {
		p := startServe(t, t.TempDir(), "--config", writeConfig(t, "http: {readTimeout: 1h}\n"), "--read-timeout", "200ms")
		// Headers that promise a body, no credentials, no body: the
		// gateway's 401, then the connection closed.
		c, br := rawConn(t, p.base)
		resp := rawRequest(t, c, br, "POST /v1/chat/completions HTTP/1.1\r\nHost: aigate\r\nContent-Length: 100\r\n\r\n")
		if resp.StatusCode != 401 {
			t.Fatalf("stalled body: %d, want 401", resp.StatusCode)
		}
		if _, err := io.Copy(io.Discard, br); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("stalled body: connection still open")
		}
	})
	t.Run("config without a flag", func(t *testing.T) {
		p := startServe(t, t.TempDir(), "--config", writeConfig(t, "http: {maxConnections: 1}\n"), "--idle-timeout", "1h")
		const healthz = "GET /healthz HTTP/1.1\r\nHost: aigate\r\n\r\n"
		c, br := rawConn(t, p.base)
		if resp := rawRequest(t, c, br, healthz); resp.StatusCode != 200 {
			t.Fatalf("first connection: %d", resp.StatusCode)
		}
		c2, br2 := rawConn(t, p.base)
		if resp := rawRequest(t, c2, br2, healthz); resp.StatusCode != 503 {
			t.Fatalf("second connection: %d, want 503 (maxConnections 1)", resp.StatusCode)
		}
	})
}

func TestServeBadLimitsExitTwoNamingTheFlagOrField(t *testing.T) {
	cfg := writeConfig(t, "http: {writeTimeout: -1s}\n")
	for name, args := range map[string][]string{
		"--read-header-timeout": {"--read-header-timeout", "0s"},
		"--read-timeout":        {"--read-timeout", "-1s"},
		"--write-timeout":       {"--write-timeout", "0"},
		"--idle-timeout":        {"--idle-timeout", "-5m"},
		"--max-connections":     {"--max-connections", "0"},
		"http.writeTimeout":     {"--config", cfg},
	} {
		cmd := exec.CommandContext(context.Background(), filepath.Join(build(t), "aigate"),
			append([]string{"serve", "--addr", freeAddr(t), "--data", t.TempDir()}, args...)...)
		cmd.Env = append(os.Environ(), "AIGATE_CONFIG=")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(stderr.String(), name) || strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
			t.Errorf("%v: exit %d (%v), stderr %q; want 2 and one line naming %s", args, cmd.ProcessState.ExitCode(), err, stderr.String(), name)
		}
	}
}
