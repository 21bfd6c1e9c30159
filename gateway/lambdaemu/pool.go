package lambdaemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Invoke after Close.
var ErrClosed = errors.New("lambdaemu: pool closed")

// Pool runs a function under a fixed number of aws-lambda-rie processes, each
// on its own loopback ports and each given one invocation at a time: the
// emulator crashes on concurrent invocations. A process that dies, or that is
// left running an invocation nobody waits for, is replaced before its next
// invocation. Close kills them all.
//
// Start it with Start; the zero value with Bootstrap set is ready for that.
type Pool struct {
	// Bootstrap is the path of the function's executable, e.g. a Go Lambda
	// built as "bootstrap" (-tags lambda.norpc) for provided.al2023.
	Bootstrap string
	// Size is the number of emulator processes, hence of concurrent
	// invocations. 0 means 1.
	Size int
	// EmulatorPath is the aws-lambda-rie executable. Empty means
	// FindEmulator.
	EmulatorPath string
	// Env is added to the environment of the emulator, which passes its
	// environment on to the function. AWS_LAMBDA_FUNCTION_TIMEOUT (seconds,
	// default 300) is the emulator's function timeout.
	Env []string
	// Output receives the emulator's and the function's stdout and stderr
	// (START/END/REPORT lines and the function's logs). Nil discards them.
	Output io.Writer
	// Logger reports processes that exit or are restarted. Nil means
	// slog.Default().
	Logger *slog.Logger
	// StartTimeout bounds the start of one emulator process, until its
	// invoke API accepts connections. 0 means 10 s. (The function itself is
	// started by the emulator on the first invocation.)
	StartTimeout time.Duration

	mu      sync.Mutex
	started bool
	closed  bool
	procs   []*proc
	idle    chan *proc    // the processes not serving an invocation
	closing chan struct{} // closed by Close
	hc      *http.Client
	emu     string
	boot    string
}

// proc is one emulator process slot, used by one invocation at a time (it is
// taken from idle). run is guarded by Pool.mu.
type proc struct {
	run *run // nil: no process
}

// run is one start of an emulator process.
type run struct {
	cmd     *exec.Cmd
	url     string
	exited  chan struct{} // closed when cmd has exited
	stopped atomic.Bool   // killed on purpose
}

// FindEmulator returns the path of aws-lambda-rie: from PATH, or else from
// `go tool -n aws-lambda-rie`, which works inside a module that pins the
// emulator with a tool directive (aigate's go.mod does) and builds it into
// the Go build cache on first use.
func FindEmulator(ctx context.Context) (string, error) {
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	out, err := exec.CommandContext(ctx, "go", "tool", "-n", "aws-lambda-rie").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("lambdaemu: aws-lambda-rie is not in PATH and `go tool -n aws-lambda-rie` failed (run inside the aigate module, or set the emulator path): %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func (p *Pool) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}

// Start starts the emulator processes. It fails if the bootstrap is missing,
// the emulator cannot be found, or a process does not come up in time.
func (p *Pool) Start(ctx context.Context) error {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return errors.New("lambdaemu: pool already started")
	}
	p.started = true
	p.mu.Unlock()

	boot, err := filepath.Abs(p.Bootstrap)
	if err != nil {
		return fmt.Errorf("lambdaemu: bootstrap: %w", err)
	}
	if fi, err := os.Stat(boot); err != nil {
		return fmt.Errorf("lambdaemu: bootstrap: %w", err)
	} else if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("lambdaemu: bootstrap %s is not an executable file", boot)
	}
	emu := p.EmulatorPath
	if emu == "" {
		if emu, err = FindEmulator(ctx); err != nil {
			return err
		}
	}
	size := p.Size
	if size <= 0 {
		size = 1
	}
	p.mu.Lock()
	p.boot, p.emu = boot, emu
	p.idle = make(chan *proc, size)
	p.closing = make(chan struct{})
	// Keep-alive connections to each emulator: one per process suffices.
	p.hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
	for range size {
		p.procs = append(p.procs, &proc{})
	}
	p.mu.Unlock()
	for _, pr := range p.procs {
		if _, err := p.start(ctx, pr); err != nil {
			p.Close()
			return err
		}
		p.idle <- pr
	}
	return nil
}

// Invoke invokes the function in an idle emulator process, waiting for one
// if all are busy. A function error is a *FunctionError.
func (p *Pool) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if p.idle == nil {
		return nil, errors.New("lambdaemu: pool not started")
	}
	var pr *proc
	select {
	case pr = <-p.idle:
	case <-p.closing:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, fmt.Errorf("lambdaemu: waiting for an idle emulator: %w", context.Cause(ctx))
	}
	defer func() { p.idle <- pr }()

	p.mu.Lock()
	rn := pr.run
	p.mu.Unlock()
	if rn == nil || isClosed(rn.exited) {
		var err error
		if rn, err = p.start(ctx, pr); err != nil {
			return nil, err
		}
	}
	b, err := invoke(ctx, p.hc, rn.url, payload)
	if err != nil {
		var fe *FunctionError
		if ctx.Err() != nil || (errors.As(err, &fe) && fe.TimedOut()) {
			// The emulator is still running (or resetting after) an
			// invocation; the next one would crash it. Replace it.
			p.stop(pr)
		}
	}
	return b, err
}

// Close kills every emulator process (and its function) and makes Invoke
// fail with ErrClosed. It is safe to call more than once.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	if p.closing != nil {
		close(p.closing)
	}
	procs := p.procs
	p.mu.Unlock()
	for _, pr := range procs {
		p.stop(pr)
	}
	if p.hc != nil {
		p.hc.CloseIdleConnections()
	}
	return nil
}

const startAttempts = 3

// start (re)starts the process of slot pr. Ports are picked free just before
// the start, so another program may take one in between: then the emulator
// exits at once and start tries again with new ports.
func (p *Pool) start(ctx context.Context, pr *proc) (*run, error) {
	p.stop(pr)
	timeout := p.StartTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	var lastErr error
	for range startAttempts {
		ports, err := freePorts(2)
		if err != nil {
			return nil, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(ports[0])
		cmd := exec.Command(p.emu,
			"--runtime-interface-emulator-address", addr,
			"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(ports[1]),
			p.boot)
		cmd.Env = append(os.Environ(), p.Env...)
		cmd.Stdout, cmd.Stderr = p.Output, p.Output
		setProcAttr(cmd)

		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		if err := cmd.Start(); err != nil {
			p.mu.Unlock()
			return nil, fmt.Errorf("lambdaemu: start emulator: %w", err)
		}
		rn := &run{cmd: cmd, url: "http://" + addr + "/2015-03-31/functions/function/invocations", exited: make(chan struct{})}
		pr.run = rn
		p.mu.Unlock()
		go p.wait(rn)

		if lastErr = waitReady(ctx, addr, rn.exited, timeout); lastErr == nil {
			p.logger().Debug("lambdaemu: emulator started", "pid", cmd.Process.Pid, "addr", addr)
			return rn, nil
		}
		p.stop(pr)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("lambdaemu: start emulator for %s: %w", filepath.Base(p.boot), lastErr)
}

// wait reaps the process and reports an exit nobody asked for.
func (p *Pool) wait(rn *run) {
	err := rn.cmd.Wait()
	close(rn.exited)
	if !rn.stopped.Load() {
		p.logger().Warn("lambdaemu: emulator exited; it is restarted before the next invocation",
			"pid", rn.cmd.Process.Pid, "error", err)
	}
}

// stop kills the process of slot pr, if any, with its function, and waits
// (briefly) until it is gone.
func (p *Pool) stop(pr *proc) {
	p.mu.Lock()
	rn := pr.run
	pr.run = nil
	p.mu.Unlock()
	if rn == nil {
		return
	}
	rn.stopped.Store(true)
	killGroup(rn.cmd)
	select {
	case <-rn.exited:
	case <-time.After(5 * time.Second):
		p.logger().Error("lambdaemu: emulator did not exit after SIGKILL", "pid", rn.cmd.Process.Pid)
	}
}

func waitReady(ctx context.Context, addr string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("invoke API on %s not up after %s", addr, timeout)
		}
		select {
		case <-exited:
			return errors.New("emulator exited during start")
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("lambdaemu: pick a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// PIDs returns the process ids of the running emulators, for diagnostics.
func (p *Pool) PIDs() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var pids []int
	for _, pr := range p.procs {
		if pr.run != nil && !isClosed(pr.run.exited) {
			pids = append(pids, pr.run.cmd.Process.Pid)
		}
	}
	return pids
}
