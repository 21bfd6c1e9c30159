package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveProc is a running `aigate serve` binary.
type serveProc struct {
	cmd    *exec.Cmd
	stdout *lineLog // the banner: listening address, first key
	stderr *lineLog // the log, one JSON object a line
	base   string
	done   chan struct{} // closed when the process has exited
	err    error         // its exit error, once done is closed
}

// wait waits for the process to exit, at most d.
func (p *serveProc) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		t.Fatal("aigate serve did not exit")
		return nil
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServe starts `aigate serve` and waits until it listens.
func startServe(t *testing.T, data string, extra ...string) *serveProc {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(filepath.Join(build(t), "aigate"), append([]string{"serve", "--addr", addr, "--data", data}, extra...)...)
	cmd.Env = append(os.Environ(), "AIGATE_STORE=", "AIGATE_HASH_KEY=", "AIGATE_CONFIG=")
	p := &serveProc{cmd: cmd, base: "http://" + addr, done: make(chan struct{})}
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	cmd.Stdout, cmd.Stderr = outW, errW
	p.stdout, p.stderr = newLineLog(outR), newLineLog(errR)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); outW.Close(); errW.Close(); close(p.done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-p.done })
	// From this line on the listener accepts: a connection waits in its
	// backlog until the server serves, right after the banner.
	p.stdout.waitFor(t, "listening on", 60*time.Second)
	return p
}

// TestServeFirstRunPrintsAKeyAndACurlThatWorks is the README's first
// command as a new user meets it.
func TestServeFirstRunPrintsAKeyAndACurlThatWorks(t *testing.T) {
	data := filepath.Join(t.TempDir(), "fresh")
	p := startServe(t, data)
	p.stdout.waitFor(t, "curl -H", 30*time.Second)
	out := p.stdout.String()
	m := regexp.MustCompile(`curl -H 'Authorization: Bearer (aig_\w+)' (http://\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no curl line in:\n%s", out)
	}
	if strings.Count(out, m[1]) != 2 {
		t.Fatalf("the key should appear once on its own and once in the curl line:\n%s", out)
	}
	// Run the curl line itself.
	curl := exec.Command("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer "+m[1], m[2])
	code, err := curl.Output()
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	if string(code) != "200" {
		t.Fatalf("the printed curl line answered %s", code)
	}
	resp, err := http.Get(p.base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	// SIGTERM drains and exits 0; a second start prints no new key.
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(t, 30*time.Second); err != nil {
		t.Fatalf("aigate serve after SIGTERM: %v", err)
	}
	// An answer means the banner is written; its whole output is read
	// once the process has exited.
	p2 := startServe(t, data)
	resp, err = http.Get(p2.base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("second start, healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	p2.cmd.Process.Signal(syscall.SIGTERM)
	if err := p2.wait(t, 30*time.Second); err != nil {
		t.Fatalf("second aigate serve after SIGTERM: %v", err)
	}
	p2.stdout.closed(t, 10*time.Second)
	if out := p2.stdout.String(); strings.Contains(out, "aig_") || !strings.Contains(out, "listening on") {
		t.Fatalf("a second start printed a key, or not its banner:\n%s", out)
	}
}

// TestServeDrainsInFlightRequests: a request in flight when SIGTERM arrives
// still gets its answer.
func TestServeDrainsInFlightRequests(t *testing.T) {
	data := t.TempDir()
	dir := t.TempDir()
	upstream := &heldUpstream{arrived: make(chan struct{}, 1), release: make(chan struct{})}
	ts := newLoopbackServer(t, upstream)
	cfg := filepath.Join(dir, "aigate.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
apis:
  - name: slow
    routes:
      - route: GET /slow
        integration: {type: HTTP_PROXY, uri: %q}
`, ts+"/slow")), 0o600)
	p := startServe(t, data, "--config", cfg)
	type result struct {
		status int
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get(p.base + "/slow")
		if err != nil {
			res <- result{0, err}
			return
		}
		resp.Body.Close()
		res <- result{resp.StatusCode, nil}
	}()
	// SIGTERM while the request waits upstream; the upstream answers once
	// the server says it is draining.
	<-upstream.arrived
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.stderr.waitFor(t, "draining in-flight requests", 30*time.Second)
	close(upstream.release)
	r := <-res
	if r.err != nil || r.status != 200 {
		t.Fatalf("in-flight request during shutdown: %d %v", r.status, r.err)
	}
	if err := p.wait(t, 30*time.Second); err != nil {
		t.Fatalf("exit: %v", err)
	}
}

func TestServeBadConfigExitsTwoNamingTheField(t *testing.T) {
	dir := t.TempDir()
	for name, doc := range map[string]string{
		"apis[0].routes[0].integration.uri": "apis:\n  - name: a\n    routes:\n      - route: GET /x\n        integration: {type: HTTP_PROXY}\n",
		"authorizer.keyCacheTTL":            "authorizer: {keyCacheTTL: soon}\n",
		"apiz":                              "apiz: []\n",
	} {
		cfg := filepath.Join(dir, "bad.yaml")
		os.WriteFile(cfg, []byte(doc), 0o600)
		cmd := exec.CommandContext(context.Background(), filepath.Join(build(t), "aigate"), "serve", "--addr", freeAddr(t), "--data", t.TempDir(), "--config", cfg)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(stderr.String(), name) || strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
			t.Errorf("config naming %s: exit %d (%v), stderr %q", name, cmd.ProcessState.ExitCode(), err, stderr.String())
		}
	}
}

// heldUpstream tells when a request has arrived and answers it once
// released.
type heldUpstream struct {
	arrived chan struct{}
	release chan struct{}
}

func (h *heldUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case h.arrived <- struct{}{}:
	default:
	}
	<-h.release
	io.WriteString(w, `{"slow":true}`)
}

func newLoopbackServer(t *testing.T, h http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}
