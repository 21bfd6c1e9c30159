package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// binaries are built once per test binary run.
var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// build compiles the commands the tests run: aigate, the authorizer
// bootstrap (with the SQLite store, as a local build) and the misbehaving
// test authorizer.
func build(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "aigate-e2e-bin")
		if buildErr != nil {
			return
		}
		for _, b := range []struct{ out, pkg, tags string }{
			{"aigate", "../cmd/aigate", ""},
			{"authorizer/bootstrap", "../cmd/authorizer", "lambda.norpc,aigate_sqlite"},
			{"misbehave/bootstrap", "./internal/misbehave/bootstrap", "lambda.norpc"},
		} {
			args := []string{"build", "-o", filepath.Join(binDir, b.out)}
			if b.tags != "" {
				args = append(args, "-tags", b.tags)
			}
			cmd := exec.Command("go", append(args, b.pkg)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				buildErr = &buildError{b.pkg, stderr.String()}
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

type buildError struct{ pkg, out string }

func (e *buildError) Error() string { return "go build " + e.pkg + ": " + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// aigate runs the aigate binary with a data directory and returns stdout.
func aigate(t *testing.T, data string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(context.Background(), filepath.Join(build(t), "aigate"), append(args, "--data", data)...)
	cmd.Env = append(os.Environ(), "AIGATE_STORE=", "AIGATE_HASH_KEY=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("aigate %v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

// createKey makes a key with the CLI and returns its id and full key.
func createKey(t *testing.T, data string, args ...string) (id, key string) {
	t.Helper()
	var k struct{ ID, Key string }
	out := aigate(t, data, append([]string{"keys", "create", "--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &k); err != nil || !strings.HasPrefix(k.Key, "aig_") {
		t.Fatalf("keys create: %q (%v)", out, err)
	}
	return k.ID, k.Key
}
