package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// prepare builds everything the measurements run, outside the namespace
// (the builds and `npm ci` may need the module proxy and the npm registry).
func prepare(ctx context.Context, o *options, started time.Time, args []string) (*manifest, error) {
	repo, err := repoRoot(ctx)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "aigate-bench-")
	if err != nil {
		return nil, err
	}
	m := &manifest{
		Repo: repo, Work: work, Started: started,
		Command:       strings.TrimSpace("go run ./bench " + strings.Join(args, " ")),
		ArmBootstrap:  map[string]string{},
		HostBootstrap: map[string]string{},
		Tests:         map[string]string{},
	}
	step := func(what string, f func() error) error {
		t0 := time.Now()
		fmt.Fprintf(os.Stderr, "bench: %s…", what)
		err := f()
		fmt.Fprintf(os.Stderr, " %s\n", time.Since(t0).Round(100*time.Millisecond))
		return err
	}
	fail := func(err error) (*manifest, error) {
		os.RemoveAll(work)
		return nil, err
	}
	if err := step("checking Portkey in node_modules", func() error {
		v, err := ensurePortkey(ctx, repo)
		m.Portkey = v
		return err
	}); err != nil {
		return fail(err)
	}
	out, err := run(ctx, nil, repo, "node", "--version")
	if err != nil {
		return fail(fmt.Errorf("bench: node is needed for Portkey: %w", err))
	}
	m.Node = strings.TrimSpace(string(out))

	goBuild := func(env []string, out string, flags ...string) error {
		args := append([]string{"build", "-o", out}, flags...)
		_, err := run(ctx, env, repo, "go", args...)
		return err
	}
	m.Aigate = filepath.Join(work, "aigate")
	if err := step("building aigate", func() error { return goBuild(nil, m.Aigate, "./cmd/aigate") }); err != nil {
		return fail(err)
	}
	for _, fn := range []string{"authorizer", "aiapi"} {
		m.ArmBootstrap[fn] = filepath.Join(work, "arm64", fn, "bootstrap")
		if err := step("building "+fn+" bootstrap, linux/arm64", func() error {
			// Exactly the documented release build.
			return goBuild([]string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64"}, m.ArmBootstrap[fn],
				"-tags", "lambda.norpc", "-ldflags", "-s -w", "./cmd/"+fn)
		}); err != nil {
			return fail(err)
		}
		m.HostBootstrap[fn] = filepath.Join(work, "host", fn, "bootstrap")
		if err := step("building "+fn+" bootstrap for this machine, with SQLite", func() error {
			return goBuild([]string{"CGO_ENABLED=0"}, m.HostBootstrap[fn],
				"-tags", "lambda.norpc,aigate_sqlite", "-ldflags", "-s -w", "./cmd/"+fn)
		}); err != nil {
			return fail(err)
		}
	}
	if err := step("building aws-lambda-rie", func() error {
		out, err := run(ctx, nil, repo, "go", "tool", "-n", "aws-lambda-rie")
		m.RIE = strings.TrimSpace(string(out))
		return err
	}); err != nil {
		return fail(err)
	}
	for _, b := range append(append([]goBench(nil), decisionBenches...), pathBenches...) {
		if _, done := m.Tests[b.Pkg]; done {
			continue
		}
		m.Tests[b.Pkg] = filepath.Join(work, strings.TrimPrefix(b.Pkg, "./")+".test")
		if err := step("compiling the benchmarks of "+b.Pkg, func() error {
			_, err := run(ctx, nil, repo, "go", "test", "-c", "-o", m.Tests[b.Pkg], b.Pkg)
			return err
		}); err != nil {
			return fail(err)
		}
	}
	if err := step("installing dynalite, compiling the DynamoDB benchmark", func() error {
		return prepareDynamoBench(ctx, repo, work, m.Tests)
	}); err != nil {
		return fail(err)
	}
	return m, nil
}

// repoRoot is the directory of aigate's go.mod.
func repoRoot(ctx context.Context) (string, error) {
	out, err := run(ctx, nil, "", "go", "env", "GOMOD")
	if err != nil {
		return "", err
	}
	gomod := strings.TrimSpace(string(out))
	b, err := os.ReadFile(gomod)
	if err != nil || !strings.Contains(string(b), "module github.com/aigate/aigate\n") {
		return "", fmt.Errorf("bench: run me from the aigate repository (go env GOMOD = %q)", gomod)
	}
	return filepath.Dir(gomod), nil
}

// ensurePortkey checks that node_modules holds the Portkey version that
// package-lock.json pins, running `npm ci` when it does not.
func ensurePortkey(ctx context.Context, repo string) (string, error) {
	const name = "node_modules/@portkey-ai/gateway"
	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	b, err := os.ReadFile(filepath.Join(repo, "package-lock.json"))
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		return "", fmt.Errorf("bench: package-lock.json: %w", err)
	}
	want := lock.Packages[name].Version
	if want == "" {
		return "", fmt.Errorf("bench: package-lock.json pins no @portkey-ai/gateway")
	}
	installed := func() string {
		var pkg struct{ Version string }
		b, err := os.ReadFile(filepath.Join(repo, name, "package.json"))
		if err != nil || json.Unmarshal(b, &pkg) != nil {
			return ""
		}
		return pkg.Version
	}
	if installed() == want {
		return want, nil
	}
	fmt.Fprintf(os.Stderr, " npm ci…")
	if _, err := run(ctx, nil, repo, "npm", "ci", "--no-audit", "--no-fund"); err != nil {
		return "", err
	}
	if got := installed(); got != want {
		return "", fmt.Errorf("bench: after npm ci, node_modules has @portkey-ai/gateway %q, package-lock.json pins %q", got, want)
	}
	return want, nil
}
