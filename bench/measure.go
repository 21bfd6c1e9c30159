package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"
)

// measure runs every measurement on loopback and writes the report.
func measure(ctx context.Context, o *options, m *manifest) error {
	// The phases have their own bounds; this one catches what they miss.
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	if err := checkLoopback(); err != nil {
		return err
	}
	ps := &Procs{LogDir: filepath.Join(m.Work, "logs")}
	if err := os.MkdirAll(ps.LogDir, 0o755); err != nil {
		return err
	}
	defer ps.StopAll()
	// A signal stops every process at once, even mid-phase.
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
			ps.StopAll()
		case <-stopped:
		}
	}()

	r := &Results{
		Date: time.Now(), Command: m.Command, Isolation: m.Isolation, Machine: machine(m),
		Load:     Load{Requests: o.requests, Warmup: o.warmup, Deadline: o.deadline},
		ColdRuns: o.coldRuns, PeakRSS: map[string]int64{}, LoadAvg: [2]string{loadAvg(), ""},
	}
	phase := func(what string) func() {
		t0 := time.Now()
		fmt.Fprintf(os.Stderr, "bench: %s…\n", what)
		return func() {
			fmt.Fprintf(os.Stderr, "bench:   %s in %s\n", what, time.Since(t0).Round(100*time.Millisecond))
		}
	}

	if o.cpuprofile != "" {
		return profileAigate(ctx, o, m, ps)
	}

	done := phase("decision-cost benchmarks")
	bctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	decisions, raw, err := runGoBenches(bctx, m.Repo, m.Tests, decisionBenches)
	cancel()
	if err != nil {
		return err
	}
	if len(decisions) == 0 {
		return fmt.Errorf("bench: no decision benchmark results in:\n%s", raw)
	}
	r.Decisions = decisions
	done()

	done = phase("DynamoDB calls per AI request")
	bctx, cancel = context.WithTimeout(ctx, 3*time.Minute)
	r.Dynamo, raw, err = runDynamoBench(bctx, m.Repo, m.Tests)
	cancel()
	if err != nil {
		return fmt.Errorf("%w\n%s", err, tail(raw, 4000))
	}
	done()

	done = phase("request-path benchmark (in process)")
	bctx, cancel = context.WithTimeout(ctx, 3*time.Minute)
	path, raw, err := runGoBenches(bctx, m.Repo, m.Tests, pathBenches)
	cancel()
	if err != nil {
		return fmt.Errorf("bench: %w\n%s", err, raw)
	}
	if len(path) == 0 {
		return fmt.Errorf("bench: no request-path benchmark results in:\n%s", raw)
	}
	r.Path = path
	done()

	done = phase("Lambda functions under aws-lambda-rie")
	if r.Lambdas, err = measureLambdas(ctx, o, m, ps); err != nil {
		return err
	}
	done()

	done = phase("AI gateways")
	if err := measureGateways(ctx, o, m, ps, r); err != nil {
		return err
	}
	done()

	r.Wall = time.Since(m.Started)
	r.LoadAvg[1] = loadAvg()
	return writeReport(m, o, r)
}

// checkLoopback makes sure there is a loopback to measure on.
func checkLoopback() error {
	up, err := StartUpstream()
	if err != nil {
		return fmt.Errorf("bench: no loopback: %w", err)
	}
	return up.Close()
}

func measureLambdas(ctx context.Context, o *options, m *manifest, ps *Procs) ([]LambdaResult, error) {
	data := filepath.Join(m.Work, "lambda-data")
	_, secret, err := createKey(ctx, m.Aigate, data)
	if err != nil {
		return nil, err
	}
	env := []string{"AIGATE_DATA=" + data, "AIGATE_STORE=", "AIGATE_JWT_CONFIG=", "AIGATE_AIAPI_CONFIG=",
		"AIGATE_AIAPI_CONFIG_FILE=", "OPENAI_BASE_URL=", "OPENAI_API_KEY="}
	authorizer := LambdaRun{Name: "authorizer", RIE: m.RIE, Bootstrap: m.HostBootstrap["authorizer"],
		Env: env, Event: tokenEvent(secret), Check: checkAllow}
	var results []LambdaResult
	measureOne := func(run LambdaRun) ([]byte, error) {
		st, err := os.Stat(m.ArmBootstrap[run.Name])
		if err != nil {
			return nil, err
		}
		res := LambdaResult{Name: run.Name, SizeBytes: st.Size()}
		if res.Cold, res.FirstCall, err = run.Cold(ctx, ps, o.coldRuns, 2*o.deadline); err != nil {
			return nil, err
		}
		warm, answer, err := run.Warm(ctx, ps, o.warmInvokes, o.deadline)
		if err != nil {
			return nil, err
		}
		res.Warm = warm
		results = append(results, res)
		return answer, nil
	}
	answer, err := measureOne(authorizer)
	if err != nil {
		return nil, err
	}
	var allow authorizerAnswer
	if err := json.Unmarshal(answer, &allow); err != nil {
		return nil, fmt.Errorf("bench: authorizer answer: %w", err)
	}
	aiapi := LambdaRun{Name: "aiapi", RIE: m.RIE, Bootstrap: m.HostBootstrap["aiapi"],
		Env: env, Event: modelsEvent(allow), Check: checkModels}
	if _, err := measureOne(aiapi); err != nil {
		return nil, err
	}
	return results, nil
}

func measureGateways(ctx context.Context, o *options, m *manifest, ps *Procs, r *Results) error {
	up, err := StartUpstream()
	if err != nil {
		return err
	}
	defer up.Close()
	ag, aigate, err := startAigate(ctx, ps, m.Work, m.Aigate, up)
	if err != nil {
		return err
	}
	pk, portkey, err := startPortkey(ctx, ps, m.Work, m.Repo, up)
	if err != nil {
		return err
	}
	direct := directTarget(up)
	for _, c := range o.levels {
		l := r.Load
		l.Concurrency = c
		lv := Level{Concurrency: c}
		for _, t := range []struct {
			target Target
			into   *Sample
		}{{direct, &lv.Direct}, {aigate, &lv.Aigate}, {portkey, &lv.Portkey}} {
			// Each measurement starts from a collected heap in the bench
			// (load generator and upstream): less GC noise between targets.
			runtime.GC()
			s, err := l.Run(ctx, t.target)
			if err != nil {
				for _, p := range []*Proc{ag, pk} {
					if p.Exited() {
						err = fmt.Errorf("%w; %s exited: %s", err, p.Name, p.Output())
					}
				}
				return err
			}
			*t.into = s
			fmt.Fprintf(os.Stderr, "bench:   c=%-2d %-8s p50 %-9s p99 %-9s %8s req/s %s\n", c, t.target.Name,
				fmtDur(s.P(0.5)), fmtDur(s.P(0.99)), fmtRate(s.Throughput()), note(s))
		}
		r.Levels = append(r.Levels, lv)
	}
	ps.Stop(ag)
	ps.Stop(pk)
	r.PeakRSS["aigate"], r.PeakRSS["portkey"] = ag.PeakRSS(), pk.PeakRSS()
	return nil
}

// profileAigate runs the aigate levels against aigate's server package in
// this process under a CPU profile, and prints the numbers: a tool for
// finding hot paths, not a report.
func profileAigate(ctx context.Context, o *options, m *manifest, ps *Procs) error {
	up, err := StartUpstream()
	if err != nil {
		return err
	}
	defer up.Close()
	target, stop, err := startAigateInProcess(ctx, m, up)
	if err != nil {
		return err
	}
	defer stop()
	f, err := os.Create(o.cpuprofile)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	for _, c := range o.levels {
		l := Load{Concurrency: c, Requests: o.requests, Warmup: o.warmup, Deadline: o.deadline}
		s, err := l.Run(ctx, target)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bench: in-process aigate c=%-2d p50 %-9s p99 %-9s %8s req/s\n", c,
			fmtDur(s.P(0.5)), fmtDur(s.P(0.99)), fmtRate(s.Throughput()))
	}
	fmt.Fprintf(os.Stderr, "bench: CPU profile written to %s (go tool pprof -top %s)\n", o.cpuprofile, o.cpuprofile)
	return nil
}

func writeReport(m *manifest, o *options, r *Results) error {
	inRepo := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(m.Repo, p)
	}
	out, chart := inRepo(o.out), inRepo(o.chart)
	rel, err := filepath.Rel(filepath.Dir(out), chart)
	if err != nil {
		rel = chart
	}
	if err := WriteChart(chart, r.Levels, fmt.Sprintf("%s, %d cores · %s", r.Machine.CPU, r.Machine.Cores, r.Date.UTC().Format("2006-01-02"))); err != nil {
		return fmt.Errorf("bench: chart: %w", err)
	}
	old, err := os.ReadFile(out)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	doc := string(old)
	if doc == "" {
		doc = "# Benchmarks\n\nReproduce with `go run ./bench` from the repository root.\n"
	}
	if err := os.WriteFile(out, []byte(ReplaceGenerated(doc, r.Markdown(filepath.ToSlash(rel)))), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: wrote %s and %s (%s in all)\n", out, chart, r.Wall.Round(time.Second))
	fmt.Println(GatewayTable(r.Levels))
	fmt.Println(LambdaTable(r.Lambdas))
	fmt.Println(DecisionTable(r.Decisions))
	fmt.Println(DynamoTable(r.Dynamo))
	fmt.Println(PathTable(r.Path))
	for _, g := range append(r.Goals(), r.P99Status()...) {
		fmt.Printf("goal: %-90s %-12s %s met=%v\n", g.What, g.Target, g.Measured, g.Met)
	}
	return nil
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "n/a"
	}
	return strings.Join(f[:3], " ")
}

// machine describes this machine from /proc.
func machine(m *manifest) Machine {
	mc := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Node: m.Node, Portkey: m.Portkey}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				mc.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if mc.CPU == "" {
		mc.CPU = runtime.GOARCH
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mc.Memory = fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		mc.Kernel = strings.TrimSpace(string(b))
	}
	return mc
}
