// Package dynalite runs dynalite, the DynamoDB emulator from npm, for tests:
// one in-memory process on 127.0.0.1 at a port the kernel picks. It
// installs dynalite with `npm ci` from the repository's package-lock.json
// when node_modules lacks it, so that no test needs a hand-made setup; it
// never talks to anything but npm's registry (through npm) and loopback.
package dynalite

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Server is a running dynalite.
type Server struct {
	// Endpoint is its URL, e.g. http://127.0.0.1:43125.
	Endpoint string

	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
	once  sync.Once
}

// script starts dynalite on a kernel-chosen port (port 0: no race with
// other tests for a "free" port), prints it, and exits when its stdin
// closes, so that a test binary that dies does not leave it behind.
const script = `
const dynalite = require(process.argv[1]);
const server = dynalite({createTableMs: 0, deleteTableMs: 0, updateTableMs: 0});
server.listen(0, '127.0.0.1', () => { console.log('listening ' + server.address().port); });
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
`

// Start installs dynalite if needed and starts it; Close stops it.
func Start(ctx context.Context) (*Server, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	if err := Install(ctx, root); err != nil {
		return nil, err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("dynalite: node is not installed (Debian: apt-get install nodejs npm)")
	}
	cmd := exec.Command(node, "-e", script, filepath.Join(root, "node_modules", "dynalite"))
	cmd.Dir = root
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("dynalite: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("dynalite: %w", err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("dynalite: start node: %w", err)
	}
	s := &Server{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				port <- p
			}
		}
		close(port)
	}()
	go func() { cmd.Wait(); close(s.done) }()
	select {
	case p, ok := <-port:
		if !ok {
			<-s.done
			return nil, fmt.Errorf("dynalite: exited before listening: %s", stderr.String())
		}
		s.Endpoint = "http://127.0.0.1:" + p
		return s, nil
	case <-time.After(30 * time.Second):
		s.Close()
		return nil, fmt.Errorf("dynalite: not listening after 30s: %s", stderr.String())
	case <-ctx.Done():
		s.Close()
		return nil, fmt.Errorf("dynalite: %w", ctx.Err())
	}
}

// Close stops dynalite: closing its stdin asks it to exit; it is killed if
// it has not after a second.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.stdin.Close()
		select {
		case <-s.done:
		case <-time.After(time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	return nil
}

// RepoRoot finds the directory holding package.json and go.mod, from the
// working directory upwards (go test runs in the package's directory).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("dynalite: %w", err)
	}
	for {
		if fileExists(filepath.Join(dir, "package.json")) && fileExists(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("dynalite: no directory with package.json and go.mod above the working directory")
		}
		dir = parent
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Install runs `npm ci` in root unless node_modules already holds the
// dynalite version package-lock.json pins. Test binaries of several
// packages may get here at once: a file lock lets one install while the
// others wait, then find it done.
func Install(ctx context.Context, root string) error {
	want, err := lockedVersion(root)
	if err != nil {
		return err
	}
	if installedVersion(root) == want {
		return nil
	}
	unlock, err := lockFile(filepath.Join(os.TempDir(), "aigate-npm-ci.lock"))
	if err != nil {
		return fmt.Errorf("dynalite: lock: %w", err)
	}
	defer unlock()
	if installedVersion(root) == want {
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("dynalite: node_modules lacks dynalite %s and npm is not installed (Debian: apt-get install npm; then run npm ci in %s)", want, root)
	}
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("dynalite: npm ci in %s: %w\n%s", root, err, out)
	}
	if got := installedVersion(root); got != want {
		return fmt.Errorf("dynalite: npm ci installed dynalite %q, want %q", got, want)
	}
	return nil
}

// lockedVersion is the dynalite version package-lock.json pins.
func lockedVersion(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "package-lock.json"))
	if err != nil {
		return "", fmt.Errorf("dynalite: %w", err)
	}
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		return "", fmt.Errorf("dynalite: package-lock.json: %w", err)
	}
	v := lock.Packages["node_modules/dynalite"].Version
	if v == "" {
		return "", errors.New("dynalite: package-lock.json does not pin dynalite")
	}
	return v, nil
}

// installedVersion is the version in node_modules, or "".
func installedVersion(root string) string {
	b, err := os.ReadFile(filepath.Join(root, "node_modules", "dynalite", "package.json"))
	if err != nil {
		return ""
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(b, &pkg) != nil {
		return ""
	}
	return pkg.Version
}
