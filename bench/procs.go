package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Procs starts the processes of a run and stops every one of them: each in
// its own process group (its children go with it), killed by the kernel if
// the bench dies first, and stopped by StopAll on every way out.
type Procs struct {
	// LogDir receives each process's output, NAME.log: a file, so that the
	// bench spends no CPU copying what its children print.
	LogDir string

	mu   sync.Mutex
	live map[*Proc]struct{}
	n    int
}

// Proc is a started process.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	log  string // the file that holds its output
}

// Start starts name with args; env is added to the bench's environment.
func (ps *Procs) Start(name string, env []string, dir string, bin string, args ...string) (*Proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	ps.mu.Lock()
	ps.n++
	logPath := filepath.Join(ps.LogDir, fmt.Sprintf("%02d-%s.log", ps.n, strings.ReplaceAll(name, " ", "-")))
	ps.mu.Unlock()
	out, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("bench: start %s: %w", name, err)
	}
	defer out.Close() // the child has its own descriptor
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s: %w", name, err)
	}
	p := &Proc{Name: name, cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() { cmd.Wait(); close(p.done) }()
	ps.mu.Lock()
	if ps.live == nil {
		ps.live = map[*Proc]struct{}{}
	}
	ps.live[p] = struct{}{}
	ps.mu.Unlock()
	return p, nil
}

// Stop sends SIGTERM to the process group, then SIGKILL after a grace
// period, and waits for the process.
func (ps *Procs) Stop(p *Proc) {
	pgid := -p.cmd.Process.Pid
	syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		syscall.Kill(pgid, syscall.SIGKILL)
		<-p.done
	}
	// Whatever the leader left behind in its group.
	syscall.Kill(pgid, syscall.SIGKILL)
	ps.mu.Lock()
	delete(ps.live, p)
	ps.mu.Unlock()
}

// StopAll stops every process still running.
func (ps *Procs) StopAll() {
	ps.mu.Lock()
	live := make([]*Proc, 0, len(ps.live))
	for p := range ps.live {
		live = append(live, p)
	}
	ps.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range live {
		wg.Go(func() { ps.Stop(p) })
	}
	wg.Wait()
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Output is the tail of what the process printed.
func (p *Proc) Output() string {
	b, _ := os.ReadFile(p.log)
	return tail(strings.TrimSpace(string(b)), 2000)
}

// WaitHTTP polls url until it answers 200, the process exits or the
// timeout passes.
func (p *Proc) WaitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		if p.Exited() {
			return fmt.Errorf("bench: %s exited: %s", p.Name, p.Output())
		}
		if resp, err := client.Get(url); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("bench: %s not ready at %s after %s: %s", p.Name, url, timeout, p.Output())
}

// WaitListening polls addr until it accepts a connection.
func (p *Proc) WaitListening(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p.Exited() {
			return fmt.Errorf("bench: %s exited: %s", p.Name, p.Output())
		}
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		if err := sleep(ctx, time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("bench: %s not listening on %s after %s: %s", p.Name, addr, timeout, p.Output())
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// freeAddr returns a loopback address nothing listens on now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// run runs a command to completion and returns its standard output.
func run(ctx context.Context, env []string, dir, bin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) || stderr.Len() > 0 {
			return out, fmt.Errorf("bench: %s %s: %w\n%s", bin, strings.Join(args, " "), err, tail(stderr.String(), 4000))
		}
		return out, fmt.Errorf("bench: %s: %w", bin, err)
	}
	return out, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// PeakRSS is the process's peak resident memory in bytes, once it has
// been stopped (the kernel's rusage of the reaped child), or 0.
func (p *Proc) PeakRSS() int64 {
	if !p.Exited() || p.cmd.ProcessState == nil {
		return 0
	}
	if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss << 10 // KiB on Linux
	}
	return 0
}
