// Command bench measures aigate against a peer AI gateway, Portkey
// (@portkey-ai/gateway, pinned in package-lock.json), and aigate's Lambda
// functions, and writes the results into BENCHMARKS.md and bench/chart.png.
// From the repository root:
//
//	go run ./bench
//
// It first builds what it measures (and runs `npm ci` when node_modules
// lacks the pinned Portkey), then runs the measurements again as itself
// inside new network and PID namespaces (`unshare --net --pid`, loopback
// only): nothing it starts can reach anything but 127.0.0.1, and nothing
// it starts outlives it. Where that namespace cannot be had it says so and
// measures in place, still on 127.0.0.1 only.
//
// It is a program, not a test: `go test ./...` runs only its unit tests.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run1(ctx, os.Args[1:], os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", strings.TrimPrefix(err.Error(), "bench: "))
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	requests    int
	warmup      int
	deadline    time.Duration
	coldRuns    int
	warmInvokes int
	out         string
	chart       string
	netns       bool
	keep        bool
	levels      []int

	// Hidden: the measuring half's work directory, and a CPU profile of
	// aigate run in process (for finding hot paths; writes no report).
	measure    string
	cpuprofile string
}

var hiddenFlags = map[string]bool{"measure": true, "cpuprofile": true}

// defaultLevels are the load levels: concurrent clients.
const defaultLevels = "1,16,64"

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.requests, "requests", 5000, "measured requests per concurrency level and target")
	fs.IntVar(&o.warmup, "warmup", 500, "unmeasured warm-up requests before each measured phase")
	fs.DurationVar(&o.deadline, "deadline", 45*time.Second, "bound of each warm-up and measured phase")
	fs.IntVar(&o.coldRuns, "cold-runs", 11, "cold starts per Lambda function")
	fs.IntVar(&o.warmInvokes, "warm-invokes", 1000, "sequential warm invokes per Lambda function")
	fs.StringVar(&o.out, "out", "BENCHMARKS.md", "Markdown file whose generated section is (re)written, relative to the repository")
	fs.StringVar(&o.chart, "chart", "bench/chart.png", "PNG chart, relative to the repository")
	fs.BoolVar(&o.netns, "netns", true, "measure inside a loopback-only network namespace (unshare)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (binaries, logs) and print its path")
	levels := fs.String("concurrency", defaultLevels, "comma-separated concurrency levels")
	fs.StringVar(&o.measure, "measure", "", "")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench [flags]\n\n")
		fs.VisitAll(func(f *flag.Flag) {
			if !hiddenFlags[f.Name] {
				fmt.Fprintf(stderr, "  -%s %s (default %q)\n", f.Name, f.Usage, f.DefValue)
			}
		})
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	for _, f := range strings.Split(*levels, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 {
			return nil, fmt.Errorf("bench: -concurrency %q: want numbers ≥ 1", *levels)
		}
		o.levels = append(o.levels, c)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	if o.requests < 1 || o.warmup < 0 || o.deadline <= 0 || o.coldRuns < 1 || o.warmInvokes < 1 {
		return nil, errors.New("bench: -requests, -cold-runs and -warm-invokes must be ≥ 1, -warmup ≥ 0, -deadline > 0")
	}
	return o, nil
}

// manifest is what the building half hands the measuring half.
type manifest struct {
	Repo          string
	Work          string
	Aigate        string
	RIE           string
	ArmBootstrap  map[string]string // linux/arm64, for sizes
	HostBootstrap map[string]string // host builds with SQLite, for timings
	Tests         map[string]string // package → compiled test binary
	Started       time.Time
	Command       string
	Isolation     string
	Node          string
	Portkey       string
}

func run1(ctx context.Context, args []string, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if o.measure != "" {
		return measureFromManifest(ctx, o)
	}
	m, err := prepare(ctx, o, commandStart(), args)
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(m.Work)
	} else {
		defer fmt.Fprintf(stderr, "bench: work directory kept: %s\n", m.Work)
	}
	if why := namespaceUnavailable(ctx, o); why != "" {
		fmt.Fprintf(stderr, "bench: WARNING: measuring without a network namespace (%s); everything still binds 127.0.0.1 and Portkey is preloaded to refuse other addresses\n", why)
		m.Isolation = "none: " + why + "; every server bound to 127.0.0.1, Portkey preloaded to refuse non-loopback connections"
		if err := writeManifest(m); err != nil {
			return err
		}
		return measure(ctx, o, m)
	}
	m.Isolation = "`unshare --net --pid --fork` with only `lo` up: the measurements, every server and Portkey could reach 127.0.0.1 and nothing else"
	if err := writeManifest(m); err != nil {
		return err
	}
	return measureInNamespace(ctx, o, m, stderr)
}

// namespaceUnavailable says why the loopback-only namespace cannot be
// used, or "" when it can.
func namespaceUnavailable(ctx context.Context, o *options) string {
	if !o.netns {
		return "-netns=false"
	}
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " not found"
		}
	}
	probe := exec.CommandContext(ctx, "unshare", "--net", "--pid", "--fork", "--kill-child", "--", "sh", "-c", "ip link set lo up")
	if out, err := probe.CombinedOutput(); err != nil {
		return fmt.Sprintf("unshare failed: %v %s", err, strings.TrimSpace(string(out)))
	}
	return ""
}

// measureInNamespace runs this program again, as the measuring half, in
// new network and PID namespaces with loopback up. When the namespace's
// first process exits, the kernel kills whatever is left in it.
func measureInNamespace(ctx context.Context, o *options, m *manifest, stderr io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"--net", "--pid", "--fork", "--kill-child=SIGTERM", "--",
		"sh", "-c", `ip link set lo up && exec "$0" "$@"`, self, "-measure", m.Work,
		"-requests", fmt.Sprint(o.requests), "-warmup", fmt.Sprint(o.warmup), "-deadline", o.deadline.String(),
		"-cold-runs", fmt.Sprint(o.coldRuns), "-warm-invokes", fmt.Sprint(o.warmInvokes),
		"-out", o.out, "-chart", o.chart, "-concurrency", joinInts(o.levels)}
	if o.cpuprofile != "" {
		abs, err := filepath.Abs(o.cpuprofile)
		if err != nil {
			return err
		}
		args = append(args, "-cpuprofile", abs)
	}
	cmd := exec.CommandContext(ctx, "unshare", args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, stderr
	// unshare blocks SIGINT and SIGTERM while it waits; killing it makes
	// the kernel send the measuring half SIGTERM (--kill-child), which
	// stops its processes and exits.
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	if ctx.Err() != nil {
		waitFile(filepath.Join(m.Work, "measure.done"), 10*time.Second)
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("bench: measuring in the namespace: %w", err)
	}
	return nil
}

// commandStart is when the command began: the start of `go run` when that
// is what started this program (its compile counts), else now.
func commandStart() time.Time {
	now := time.Now()
	ppid := os.Getppid()
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", ppid))
	if err != nil || !strings.HasPrefix(strings.ReplaceAll(string(cmdline), "\x00", " "), "go run ") {
		return now
	}
	stat, err1 := os.ReadFile(fmt.Sprintf("/proc/%d/stat", ppid))
	procStat, err2 := os.ReadFile("/proc/stat")
	if err1 != nil || err2 != nil {
		return now
	}
	// Field 22 of stat, after the parenthesized command name, is the start
	// in clock ticks after boot (USER_HZ, 100 on Linux).
	after := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
	f := strings.Fields(after)
	if len(f) < 20 {
		return now
	}
	ticks, err := strconv.ParseInt(f[19], 10, 64)
	if err != nil {
		return now
	}
	for line := range strings.Lines(string(procStat)) {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			boot, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return now
			}
			t := time.Unix(boot, 0).Add(time.Duration(ticks) * 10 * time.Millisecond)
			if t.After(now) || now.Sub(t) > time.Hour {
				return now
			}
			return t
		}
	}
	return now
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func waitFile(path string, timeout time.Duration) {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
}

func writeManifest(m *manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(m.Work, "manifest.json"), b, 0o600)
}

func measureFromManifest(ctx context.Context, o *options) error {
	defer os.WriteFile(filepath.Join(o.measure, "measure.done"), nil, 0o600)
	b, err := os.ReadFile(filepath.Join(o.measure, "manifest.json"))
	if err != nil {
		return err
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	return measure(ctx, o, &m)
}
