package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/store/sqlite"
)

// TestKillNineUnderLoadLosesNoAnsweredRequest: every request, in any of
// the three protocols, that got a 200 before `aigate serve` was killed with SIGKILL is in the usage ledger,
// and the reservations the dead process left pending are released once
// they expire, by the restarted server.
func TestKillNineUnderLoadLosesNoAnsweredRequest(t *testing.T) {
	data := t.TempDir()
	_, key := createKey(t, data, "--name", "load", "--models", "echo", "--tokens-per-day", "100000000")
	cfg := filepath.Join(t.TempDir(), "aigate.yaml")
	os.WriteFile(cfg, []byte("aiapi:\n  upstreamTimeout: 2s\n  reservationTtl: 3s\n  expireInterval: 500ms\n"), 0o600)
	p := startServe(t, data, "--config", cfg)

	var (
		mu       sync.Mutex
		answered []string
		byPath   = map[string]int{}
		wg       sync.WaitGroup
	)
	// The kill comes once enough has been answered in each protocol, so
	// that the load is known to have run (not after a guessed while).
	enough := make(chan struct{})
	var once sync.Once
	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: 5 * time.Second}
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500 && time.Now().Before(deadline); i++ {
				path, body := loadRequest(i, w)
				req, _ := http.NewRequest("POST", p.base+path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Anthropic-Version", "2023-06-01")
				resp, err := client.Do(req)
				if err != nil {
					return // the server is gone
				}
				resp.Body.Close()
				if resp.StatusCode == 200 {
					mu.Lock()
					answered = append(answered, resp.Header.Get("X-Request-Id"))
					byPath[path]++
					if len(answered) >= 20 && byPath["/v1/chat/completions"] > 0 && byPath["/v1/responses"] > 0 && byPath["/v1/messages"] > 0 {
						once.Do(func() { close(enough) })
					}
					mu.Unlock()
				}
			}
		}()
	}
	loaded := make(chan struct{})
	go func() { wg.Wait(); close(loaded) }()
	select {
	case <-enough:
	case <-loaded: // the load ended first: the checks below say why
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t, 10*time.Second)
	wg.Wait()
	if len(answered) < 20 {
		t.Fatalf("only %d requests answered before the kill: the load did not run", len(answered))
	}
	for _, path := range []string{"/v1/chat/completions", "/v1/responses", "/v1/messages"} {
		if byPath[path] == 0 {
			t.Fatalf("no request to %s answered before the kill (%v): the mix did not run", path, byPath)
		}
	}

	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(data, "aigate.db"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := st.Usage(ctx, quota.Query{})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	inLedger := map[string]bool{}
	for _, e := range entries {
		inLedger[e.RequestID] = true
	}
	for _, id := range answered {
		if id == "" || !inLedger[id] {
			t.Fatalf("request %q got a 200 but is not in the ledger (%d answered, %d in the ledger)", id, len(answered), len(entries))
		}
	}
	pendingAfterKill := pendingReservations(t, data)
	t.Logf("%d answered, %d ledger rows, %d reservations left pending by the kill", len(answered), len(entries), pendingAfterKill)

	// Restart: the server releases what the dead one left, once expired.
	// The new server logs each release; it is waited for, not slept on.
	p2 := startServe(t, data, "--config", cfg)
	for released, from := 0, 0; released < pendingAfterKill; {
		line, after, ok := p2.stderr.next(from, 30*time.Second, func(l string) bool {
			return strings.Contains(l, "released expired reservations")
		})
		if !ok {
			t.Fatalf("%d of the %d reservations left by the kill released; log:\n%s", released, pendingAfterKill, p2.stderr)
		}
		var ev struct{ Count int }
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.Count <= 0 {
			t.Fatalf("log line %s: %v", line, err)
		}
		released, from = released+ev.Count, after
	}
	if n := pendingReservations(t, data); n != 0 {
		t.Fatalf("%d reservations still pending after their expiry", n)
	}
	p2.cmd.Process.Signal(syscall.SIGTERM)
	if err := p2.wait(t, 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

// loadRequest is the i-th request of load worker w, the workers' requests
// a mix of chat completions, Responses and Messages, each slowed by echo's
// delay_ms so that some are in flight when the server dies.
func loadRequest(i, w int) (path, body string) {
	delay := 20 + i%30
	switch (i + w) % 3 {
	case 0:
		return "/v1/chat/completions", fmt.Sprintf(`{"model":"echo","delay_ms":%d,"messages":[{"role":"user","content":"request %d"}]}`, delay, i)
	case 1:
		return "/v1/responses", fmt.Sprintf(`{"model":"echo","delay_ms":%d,"input":"request %d"}`, delay, i)
	}
	return "/v1/messages", fmt.Sprintf(`{"model":"echo","delay_ms":%d,"max_tokens":64,"messages":[{"role":"user","content":"request %d"}]}`, delay, i)
}

// pendingReservations counts the reservations in the SQLite store. It reads
// the table directly: no store method lists pending reservations without
// releasing them.
func pendingReservations(t *testing.T, data string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "aigate.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM quota_reservations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
