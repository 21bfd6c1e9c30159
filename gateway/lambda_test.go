package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestEndpointFunctionErrorsComeFromTheBody runs the authorizer behind a
// Lambda invoke API that answers like aws-lambda-rie: HTTP 200 for
// everything, errors as {"errorMessage":…,"errorType":…}.
func TestEndpointFunctionErrorsComeFromTheBody(t *testing.T) {
	var inFlight, maxInFlight atomic.Int32
	var paths sync.Map
	emu := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths.Store(r.URL.Path, true)
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		if n > maxInFlight.Load() {
			maxInFlight.Store(n)
		}
		time.Sleep(2 * time.Millisecond)
		b, _ := io.ReadAll(r.Body)
		switch {
		case strings.Contains(string(b), "Bearer good"):
			w.Write([]byte(`{"principalId":"p","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]}}`))
		case strings.Contains(string(b), "Bearer broken"):
			w.Write([]byte(`{"errorMessage":"runtime error: invalid memory address","errorType":"runtimeError"}`))
		default:
			w.Write([]byte(`{"errorMessage":"Unauthorized","errorType":"errorString"}`))
		}
	}))
	defer emu.Close()
	cfg := `
apis:
  - name: rest
    authorizers:
      keys:
        type: REQUEST
        endpoint: ` + emu.URL + `
        functionName: my-authorizer
        identitySource: method.request.header.Authorization
        authorizerResultTtlInSeconds: 0
    routes:
      - {route: "GET /{proxy+}", authorizer: keys, integration: {type: MOCK}}
`
	srv, _ := serve(t, cfg, Options{})
	for token, want := range map[string]int{"good": 200, "bad": 401, "broken": 500} {
		if r := do(t, "GET", srv.URL+"/x", bearer(token), ""); r.status != want {
			t.Errorf("%s: %d %s, want %d", token, r.status, r.body, want)
		}
	}
	if _, ok := paths.Load("/2015-03-31/functions/my-authorizer/invocations"); !ok {
		t.Error("the invoke API path was not used")
	}
	// Concurrent requests reach the endpoint one at a time (maxConcurrency 1).
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do(t, "GET", srv.URL+fmt.Sprint("/c", i), bearer("good"), "")
		}()
	}
	wg.Wait()
	if m := maxInFlight.Load(); m != 1 {
		t.Errorf("%d invocations in flight at once, want 1", m)
	}
}

// TestBootstrapRunsTheAuthorizerUnderTheEmulator builds a Go authorizer and
// lets the gateway run it under a pool of real aws-lambda-rie processes.
func TestBootstrapRunsTheAuthorizerUnderTheEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Lambda function and runs aws-lambda-rie")
	}
	dir := t.TempDir()
	boot := filepath.Join(dir, "bootstrap")
	if out, err := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", boot, "./testdata/authorizer").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	emuPath, err := exec.Command("go", "tool", "-n", "aws-lambda-rie").Output()
	if err != nil {
		t.Fatalf("go tool -n aws-lambda-rie: %v", stderrOf(err))
	}
	cfgPath := filepath.Join(dir, "aigate.yaml")
	cfgText := `
apis:
  - name: rest
    authorizers:
      keys:
        type: REQUEST
        bootstrap: ./bootstrap
        poolSize: 2
        identitySource: method.request.header.Authorization
        authorizerResultTtlInSeconds: 0
    routes:
      - route: "ANY /v1/{proxy+}"
        authorizer: keys
        integration: {type: MOCK, response: {body: '{"p":"$context.authorizer.principalId","rt":"$context.authorizer.runtime"}'}}
`
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(context.Background(), cfg, Options{EmulatorPath: strings.TrimSpace(string(emuPath)), Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()

	var wg sync.WaitGroup
	results := make([]response, 12)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = do(t, "POST", srv.URL+fmt.Sprintf("/v1/r%d", i), bearer("good"), "")
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.status != 200 || r.body != `{"p":"emulated","rt":"rie"}` {
			t.Errorf("request %d: %d %s", i, r.status, r.body)
		}
	}
	if r := do(t, "GET", srv.URL+"/v1/x", bearer("bad"), ""); r.status != 401 || r.body != `{"message":"Unauthorized"}` {
		t.Errorf("Unauthorized from the emulated function: %d %s", r.status, r.body)
	}

	pids := emulatorPIDs(g)
	if len(pids) != 2 {
		t.Fatalf("%d emulator processes, want 2", len(pids))
	}
	g.Close()
	for _, pid := range pids {
		if processAlive(pid) {
			t.Errorf("emulator %d still running after Close", pid)
		}
	}
}

// stderrOf adds a failed command's stderr to its error.
func stderrOf(err error) error {
	if ee, ok := err.(*exec.ExitError); ok {
		return fmt.Errorf("%w: %s", err, ee.Stderr)
	}
	return err
}

func emulatorPIDs(g *Gateway) []int {
	var pids []int
	for _, p := range g.pools {
		pids = append(pids, p.PIDs()...)
	}
	return pids
}

func processAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}
