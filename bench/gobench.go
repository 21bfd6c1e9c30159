package main

import (
	"bufio"
	"context"
	"strconv"
	"strings"
)

// BenchLine is one result line of `go test -bench`.
type BenchLine struct {
	Name       string             // without the -GOMAXPROCS suffix
	Procs      int                // GOMAXPROCS, 1 when the name had no suffix
	Iterations int64              //
	Metrics    map[string]float64 // by unit: "ns/op", "B/op", "allocs/op", custom units
}

// ParseBench reads the result lines of `go test -bench` output and ignores
// everything else (goos:, PASS, logs).
func ParseBench(out string) []BenchLine {
	var lines []BenchLine
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		l := BenchLine{Name: f[0], Procs: 1, Iterations: n, Metrics: map[string]float64{}}
		if i := strings.LastIndexByte(l.Name, '-'); i > 0 {
			if p, err := strconv.Atoi(l.Name[i+1:]); err == nil && p > 0 {
				l.Name, l.Procs = l.Name[:i], p
			}
		}
		ok := true
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				ok = false
				break
			}
			l.Metrics[f[i+1]] = v
		}
		if ok {
			lines = append(lines, l)
		}
	}
	return lines
}

// Decision is one measured Go benchmark result: a decision's cost, or the
// request path's.
type Decision struct {
	What    string
	Bench   string // the benchmark's name
	NsPerOp float64
	Allocs  float64
	Bytes   float64
}

// goBench is a package's Go benchmarks behind a table: the package, the
// -bench pattern and, per result, what it measures.
type goBench struct {
	Pkg, Pattern string
	What         map[string]string
}

// decisionBenches are the Go benchmarks behind the decision-cost table.
var decisionBenches = []goBench{
	{"./authz", "AuthorizeAPIKey", map[string]string{
		"BenchmarkAuthorizeAPIKey/cached":   "API key, key cached in memory",
		"BenchmarkAuthorizeAPIKey/uncached": "API key, key read from the store (in-memory fake) each time",
	}},
	{"./jwtauth", "VerifyToken/(RS256|ES256)/verify$", map[string]string{
		"BenchmarkVerifyToken/RS256/verify": "JWT RS256: verify + claims, warm keys, no token cache",
		"BenchmarkVerifyToken/ES256/verify": "JWT ES256: verify + claims, warm keys, no token cache",
	}},
	{"./jwtauth", "VerifyToken/cache-hit$", map[string]string{
		"BenchmarkVerifyToken/cache-hit": "JWT, verified token cache hit",
	}},
}

// pathBenches are the Go benchmarks behind the request-path table: aigate's
// whole path for one chat completion, in process.
var pathBenches = []goBench{
	{"./server", "^BenchmarkServeChat$", map[string]string{
		"BenchmarkServeChat": "one chat completion through `aigate serve`'s server (authorizer, key status, reservation, upstream call, settlement, log lines), SQLite",
	}},
}

// runGoBenches runs the compiled test binaries (tests[pkg]) in their
// package directories, as `go test -run '^$' -bench PATTERN -benchmem PKG`
// would, and picks the results named in benches.
func runGoBenches(ctx context.Context, repo string, tests map[string]string, benches []goBench) ([]Decision, string, error) {
	var all []Decision
	var raw strings.Builder
	for _, b := range benches {
		out, err := run(ctx, nil, repo+"/"+strings.TrimPrefix(b.Pkg, "./"), tests[b.Pkg],
			"-test.run", "^$", "-test.bench", b.Pattern, "-test.benchmem")
		raw.Write(out)
		if err != nil {
			return all, raw.String(), err
		}
		for _, l := range ParseBench(string(out)) {
			if what, ok := b.What[l.Name]; ok {
				all = append(all, Decision{What: what, Bench: l.Name,
					NsPerOp: l.Metrics["ns/op"], Allocs: l.Metrics["allocs/op"], Bytes: l.Metrics["B/op"]})
			}
		}
	}
	return all, raw.String(), nil
}
