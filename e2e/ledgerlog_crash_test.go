package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/store/sqlite"
)

// TestKillNineAtRandomPointsKeepsLedgerExactAndBudgetWhole: `aigate serve`
// admits in memory and logs each ledger change before answering
// (sqlite.Owner). Under 16-way load it is killed with SIGKILL twice, each
// time after a random number of answers, and restarted on the same data
// directory; a third run spends the rest of the key's day budget and stops
// cleanly. Every request answered 200 in any run is in the ledger exactly
// once, and the ledger never holds more tokens than the budget: the log
// replayed at restart brings back what the dead process had admitted.
func TestKillNineAtRandomPointsKeepsLedgerExactAndBudgetWhole(t *testing.T) {
	const budget = 12000
	seed := uint64(time.Now().UnixNano())
	rnd := rand.New(rand.NewPCG(seed, seed>>7))
	t.Logf("seed %d", seed)

	data := t.TempDir()
	id, key := createKey(t, data, "--name", "budget", "--models", "echo", "--tokens-per-day", fmt.Sprint(budget))
	cfg := filepath.Join(t.TempDir(), "aigate.yaml")
	os.WriteFile(cfg, []byte("aiapi:\n  upstreamTimeout: 2s\n"), 0o600)

	var (
		mu       sync.Mutex
		answered = map[string]int{} // request id → runs that answered it 200
	)
	client := &http.Client{Timeout: 5 * time.Second}
	// load runs 16 workers against p until stop is closed, the budget
	// refuses them all, or each has sent 400 requests; onAnswer is called
	// with the number of answers so far in this run.
	load := func(p *serveProc, stop <-chan struct{}, onAnswer func(n int)) (ok, refused int) {
		var wg sync.WaitGroup
		n := 0
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 400; i++ {
					select {
					case <-stop:
						return
					default:
					}
					body := fmt.Sprintf(`{"model":"echo","delay_ms":%d,"max_tokens":16,"messages":[{"role":"user","content":"worker %d request %d"}]}`, rand.IntN(8), w, i)
					req, _ := http.NewRequest(http.MethodPost, p.base+"/v1/chat/completions", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+key)
					resp, err := client.Do(req)
					if err != nil {
						return // the server is gone
					}
					resp.Body.Close()
					switch resp.StatusCode {
					case http.StatusOK:
						mu.Lock()
						answered[resp.Header.Get("X-Request-Id")]++
						ok++
						n++
						onAnswer(n)
						mu.Unlock()
					case http.StatusTooManyRequests:
						mu.Lock()
						refused++
						mu.Unlock()
						return // the budget is spent, for this worker
					default:
						t.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			}()
		}
		wg.Wait()
		return ok, refused
	}

	for run := range 2 {
		p := startServe(t, data, "--config", cfg)
		killAt := 1 + rnd.IntN(150)
		stop := make(chan struct{})
		var once sync.Once
		ok, _ := load(p, stop, func(n int) {
			if n >= killAt {
				once.Do(func() {
					p.cmd.Process.Signal(syscall.SIGKILL)
					close(stop)
				})
			}
		})
		p.wait(t, 10*time.Second)
		t.Logf("run %d: killed after %d answers (%d answered)", run, killAt, ok)
	}
	p := startServe(t, data, "--config", cfg)
	ok, refused := load(p, make(chan struct{}), func(int) {})
	t.Logf("last run: %d answered, %d refused by the budget", ok, refused)
	if refused == 0 {
		t.Fatalf("the budget of %d tokens never refused a request: the load did not spend it", budget)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(t, 30*time.Second); err != nil {
		t.Fatal(err)
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
	inLedger := map[string]int{}
	var tokens int64
	for _, e := range entries {
		inLedger[e.RequestID]++
		if e.PrincipalID == "key:"+id {
			tokens += e.PromptTokens + e.CompletionTokens
		}
	}
	for rid, n := range answered {
		if rid == "" || n != 1 {
			t.Fatalf("request id %q answered %d times", rid, n)
		}
		if inLedger[rid] != 1 {
			t.Errorf("request %s got a 200 and is %d times in the ledger, want once", rid, inLedger[rid])
		}
	}
	for rid, n := range inLedger {
		if n != 1 {
			t.Errorf("request %s is %d times in the ledger", rid, n)
		}
	}
	if tokens > budget {
		t.Errorf("the ledger holds %d tokens for the key, over its day budget of %d", tokens, budget)
	}
	t.Logf("%d answered, %d ledger rows, %d of %d tokens", len(answered), len(entries), tokens, budget)
}

// TestSecondServeOnADataDirectoryIsRefused: the serving process owns the
// ledger (it admits in memory); a second `aigate serve` on the same data
// directory exits at start, saying which directory and which process,
// while key management beside the first keeps working.
func TestSecondServeOnADataDirectoryIsRefused(t *testing.T) {
	data := t.TempDir()
	p := startServe(t, data)
	cmd := exec.Command(filepath.Join(build(t), "aigate"), "serve", "--addr", freeAddr(t), "--data", data)
	cmd.Env = append(os.Environ(), "AIGATE_STORE=", "AIGATE_HASH_KEY=", "AIGATE_CONFIG=")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("a second serve on %s started:\n%s", data, out)
	}
	want := fmt.Sprintf("pid %d", p.cmd.Process.Pid)
	if !strings.Contains(string(out), filepath.Join(data, "aigate.db")) || !strings.Contains(string(out), want) {
		t.Fatalf("the second serve's error does not name the database and %s:\n%s", want, out)
	}
	createKey(t, data, "--name", "beside serve", "--models", "echo")
}
