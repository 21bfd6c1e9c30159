package lambdaemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"
)

type echoResult struct {
	Echo    string `json:"echo"`
	PID     int    `json:"pid"`
	StartNs int64  `json:"startNs"`
	EndNs   int64  `json:"endNs"`
}

func invokeEcho(t *testing.T, ctx context.Context, p *Pool, payload string) (echoResult, error) {
	t.Helper()
	b, err := p.Invoke(ctx, []byte(payload))
	if err != nil {
		return echoResult{}, err
	}
	var r echoResult
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("result %q: %v", b, err)
	}
	return r, nil
}

func TestPoolOfOneSerializesConcurrentInvocations(t *testing.T) {
	p := startPool(t, 1)
	ctx, cancel := waitTimeout()
	defer cancel()

	const n = 8
	results := make([]echoResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = invokeEcho(t, ctx, p, fmt.Sprintf(`{"echo":"req-%d","sleepMs":20}`, i))
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("invocation %d: %v (concurrent invocations crash the emulator)", i, errs[i])
		}
		if want := fmt.Sprintf("req-%d", i); results[i].Echo != want {
			t.Errorf("invocation %d echoed %q, want %q", i, results[i].Echo, want)
		}
	}
	sort.Slice(results, func(i, j int) bool { return results[i].StartNs < results[j].StartNs })
	for i := 1; i < n; i++ {
		if results[i].StartNs < results[i-1].EndNs {
			t.Errorf("invocations overlapped: one started at %d before the previous ended at %d", results[i].StartNs, results[i-1].EndNs)
		}
		if results[i].PID != results[0].PID {
			t.Errorf("pool of one used two function processes (%d, %d) without a failure", results[0].PID, results[i].PID)
		}
	}
}

func TestPoolSpreadsInvocationsOverItsProcesses(t *testing.T) {
	p := startPool(t, 2)
	ctx, cancel := waitTimeout()
	defer cancel()
	pids := map[int]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := invokeEcho(t, ctx, p, fmt.Sprintf(`{"echo":"%d","sleepMs":30}`, i))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			pids[r.PID] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(pids) != 2 {
		t.Errorf("6 concurrent invocations ran in %d function processes, want 2", len(pids))
	}
}

func TestPoolReportsFunctionErrorsFromTheBody(t *testing.T) {
	p := startPool(t, 1)
	ctx, cancel := waitTimeout()
	defer cancel()
	_, err := p.Invoke(ctx, []byte(`{"fail":"Unauthorized"}`))
	var fe *FunctionError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a *FunctionError", err)
	}
	if fe.Message != "Unauthorized" || fe.Type != "errorString" {
		t.Errorf("function error = %+v, want Unauthorized/errorString", fe)
	}
	// The emulator survives a function error.
	if _, err := invokeEcho(t, ctx, p, `{"echo":"after"}`); err != nil {
		t.Fatal(err)
	}
}

func TestPoolRestartsAnEmulatorThatDied(t *testing.T) {
	p := startPool(t, 1)
	ctx, cancel := waitTimeout()
	defer cancel()
	first, err := invokeEcho(t, ctx, p, `{"echo":"one"}`)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	rn := p.procs[0].run
	p.mu.Unlock()
	killGroup(rn.cmd) // not stop(): the pool must notice by itself
	<-rn.exited

	second, err := invokeEcho(t, ctx, p, `{"echo":"two"}`)
	if err != nil {
		t.Fatalf("invoke after the emulator died: %v", err)
	}
	if second.Echo != "two" || second.PID == first.PID {
		t.Errorf("after restart got %+v (first pid %d), want a new function process", second, first.PID)
	}
}

func TestPoolReplacesAnEmulatorLeftRunningAnAbandonedInvocation(t *testing.T) {
	p := startPool(t, 1)
	short, cancelShort := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancelShort()
	if _, err := p.Invoke(short, []byte(`{"sleepMs":3000}`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	// Without the replacement this invocation would reach an emulator that
	// is still busy, and crash it.
	ctx, cancel := waitTimeout()
	defer cancel()
	r, err := invokeEcho(t, ctx, p, `{"echo":"next"}`)
	if err != nil || r.Echo != "next" {
		t.Fatalf("next invocation: %+v, %v", r, err)
	}
}

func TestPoolReportsTheEmulatorsFunctionTimeout(t *testing.T) {
	p := startPool(t, 1, "AWS_LAMBDA_FUNCTION_TIMEOUT=1")
	ctx, cancel := waitTimeout()
	defer cancel()
	_, err := p.Invoke(ctx, []byte(`{"sleepMs":3000}`))
	var fe *FunctionError
	if !errors.As(err, &fe) || !fe.TimedOut() {
		t.Fatalf("err = %v, want a timed-out *FunctionError", err)
	}
	if _, err := invokeEcho(t, ctx, p, `{"echo":"after timeout"}`); err != nil {
		t.Fatalf("invocation after a timeout: %v", err)
	}
}

func TestPoolCloseKillsEmulatorsAndRefusesInvocations(t *testing.T) {
	p := startPool(t, 2)
	p.mu.Lock()
	var runs []*run
	for _, pr := range p.procs {
		runs = append(runs, pr.run)
	}
	p.mu.Unlock()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for _, rn := range runs {
		if !isClosed(rn.exited) {
			t.Errorf("emulator %d still running after Close", rn.cmd.Process.Pid)
		}
	}
	ctx, cancel := waitTimeout()
	defer cancel()
	if _, err := p.Invoke(ctx, []byte(`{}`)); !errors.Is(err, ErrClosed) {
		t.Errorf("Invoke after Close: %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestPoolStartFailsWithoutBootstrap(t *testing.T) {
	p := &Pool{Bootstrap: t.TempDir() + "/missing", EmulatorPath: "/bin/true"}
	if err := p.Start(context.Background()); err == nil {
		t.Fatal("Start succeeded without a bootstrap")
	}
}
