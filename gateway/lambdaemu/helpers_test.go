package lambdaemu

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// buildOnce caches the emulator path and the built test function for the
// whole test binary: building them takes seconds.
var buildOnce struct {
	sync.Once
	emulator, bootstrap string
	err                 error
	dir                 string
}

// testFunction builds testdata/echo with -tags lambda.norpc (as a Lambda is
// built for provided.al2023) and resolves aws-lambda-rie the way the project
// pins it, `go tool -n aws-lambda-rie`. Nothing is installed by hand.
func testFunction(t *testing.T) (emulator, bootstrap string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a Lambda function and runs aws-lambda-rie")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lambdaemu-test")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.dir = dir
		out, err := exec.Command("go", "tool", "-n", "aws-lambda-rie").Output()
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				err = &buildError{err: err, out: string(ee.Stderr)}
			}
			buildOnce.err = err
			return
		}
		buildOnce.emulator = strings.TrimSpace(string(out))
		buildOnce.bootstrap = filepath.Join(dir, "bootstrap")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", buildOnce.bootstrap, "./testdata/echo")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildOnce.err = &buildError{err: err, out: string(out)}
		}
	})
	if buildOnce.err != nil {
		t.Fatalf("build test function: %v", buildOnce.err)
	}
	return buildOnce.emulator, buildOnce.bootstrap
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	if buildOnce.dir != "" {
		os.RemoveAll(buildOnce.dir)
	}
	os.Exit(code)
}

func startPool(t *testing.T, size int, env ...string) *Pool {
	t.Helper()
	emu, boot := testFunction(t)
	p := &Pool{Bootstrap: boot, Size: size, EmulatorPath: emu, Env: env}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func waitTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}
