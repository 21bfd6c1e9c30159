package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

func TestPercentileIsNearestRank(t *testing.T) {
	ten := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i + 1)
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty sample", nil, 0.5, 0},
		{"one value is every quantile", []time.Duration{7}, 0.99, 7},
		{"median of ten is the fifth", ten, 0.5, 5},
		{"p99 of ten is the largest", ten, 0.99, 10},
		{"p10 of ten is the first", ten, 0.1, 1},
		{"p100 is the largest", ten, 1, 10},
		{"q near zero is the smallest", ten, 0.0001, 1},
		{"p50 of 100 is the 50th", hundred, 0.5, 50},
		{"p99 of 100 is the 99th", hundred, 0.99, 99},
		{"median of two is the lower", []time.Duration{1, 2}, 0.5, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percentile(tc.sorted, tc.q); got != tc.want {
				t.Errorf("Percentile(q=%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestMedianSortsACopy(t *testing.T) {
	in := []time.Duration{30, 10, 20}
	if got := Median(in); got != 20 {
		t.Errorf("Median = %v, want 20", got)
	}
	if in[0] != 30 {
		t.Error("Median reordered its argument")
	}
}

func TestAddedLatencyIsNeverNegative(t *testing.T) {
	direct := Sample{Latencies: []time.Duration{ms(1), ms(2)}}
	for _, tc := range []struct {
		name    string
		gateway Sample
		want    time.Duration
	}{
		{"slower gateway adds the difference", Sample{Latencies: []time.Duration{ms(3), ms(5)}}, ms(2)},
		{"noise below direct counts as zero", Sample{Latencies: []time.Duration{ms(0.5), ms(0.6)}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Added(tc.gateway, direct, 0.5); got != tc.want {
				t.Errorf("Added = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestThroughputCountsSuccessfulRequestsOverWallTime(t *testing.T) {
	s := Sample{Latencies: make([]time.Duration, 500), Errors: 3, Elapsed: 2 * time.Second}
	if got := s.Throughput(); got != 250 {
		t.Errorf("Throughput = %v, want 250", got)
	}
	if got := (Sample{}).Throughput(); got != 0 {
		t.Errorf("empty sample: %v", got)
	}
}

func TestParseBenchReadsResultLinesOnly(t *testing.T) {
	out := `goos: linux
goarch: amd64
pkg: github.com/aigate/aigate/jwtauth
cpu: AMD EPYC
BenchmarkVerifyToken/RS256/verify-2         	   10000	    127451 ns/op	   12577 B/op	     142 allocs/op
BenchmarkVerifyToken/RS256/ratio-to-bare-crypto-2   6912	    170320 ns/op	     57696 baseline-ns	         1.950 x-baseline	   13953 B/op	     151 allocs/op
BenchmarkAuthorizeAPIKey/cached     	 1475128	       813.7 ns/op
BenchmarkName-with-dash-8   	 100	 5 ns/op
BenchmarkBroken-2   	 abc	 5 ns/op
BenchmarkOddFields-2   	 100	 5 ns/op	 7
    bench_test.go:12: some log line
PASS
ok  	github.com/aigate/aigate/jwtauth	13.449s
`
	got := ParseBench(out)
	want := []BenchLine{
		{"BenchmarkVerifyToken/RS256/verify", 2, 10000, map[string]float64{"ns/op": 127451, "B/op": 12577, "allocs/op": 142}},
		{"BenchmarkVerifyToken/RS256/ratio-to-bare-crypto", 2, 6912, map[string]float64{"ns/op": 170320, "baseline-ns": 57696, "x-baseline": 1.95, "B/op": 13953, "allocs/op": 151}},
		{"BenchmarkAuthorizeAPIKey/cached", 1, 1475128, map[string]float64{"ns/op": 813.7}},
		{"BenchmarkName-with-dash", 8, 100, map[string]float64{"ns/op": 5}},
	}
	if len(got) != len(want) {
		t.Fatalf("parsed %d lines, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.Name || g.Procs != w.Procs || g.Iterations != w.Iterations || len(g.Metrics) != len(w.Metrics) {
			t.Errorf("line %d = %+v, want %+v", i, g, w)
			continue
		}
		for unit, v := range w.Metrics {
			if math.Abs(g.Metrics[unit]-v) > 1e-9 {
				t.Errorf("line %d %s = %v, want %v", i, unit, g.Metrics[unit], v)
			}
		}
	}
}

// sample has the given nearest-rank p50 and p99 (ms) over 100 latencies,
// and the given throughput.
func sample(p50, p99 float64, rate float64) Sample {
	lat := make([]time.Duration, 100)
	for i := range lat {
		lat[i] = ms(p50)
		if i >= 98 {
			lat[i] = ms(p99)
		}
	}
	return Sample{Latencies: lat, Requested: 100, Elapsed: time.Duration(100 / rate * float64(time.Second))}
}

func TestGatewayTableShowsAddedLatencyAndRatios(t *testing.T) {
	levels := []Level{{
		Concurrency: 16,
		Direct:      sample(1, 2, 10000),
		Aigate:      sample(2, 4, 2000),
		Portkey:     sample(11, 22, 400),
	}}
	levels[0].Portkey.Errors = 2
	table := GatewayTable(levels)
	for _, want := range []string{
		"| concurrency | target | p50 | p99 | added p50 | added p99 | throughput (req/s) | notes |",
		"| 16 | direct (upstream) | 1.00 ms | 2.00 ms | — | — | 10,000 |  |",
		"| 16 | aigate | 2.00 ms | 4.00 ms | 1.00 ms | 2.00 ms | 2,000 |  |",
		"| 16 | Portkey | 11.0 ms | 22.0 ms | 10.0 ms | 20.0 ms | 400 | 2 errors |",
		"| 16 | **aigate / Portkey** | 0.18× | 0.18× | **0.10×** | **0.10×** | **5.00×** | |",
	} {
		if !strings.Contains(table, want+"\n") {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

func TestLambdaAndDecisionTables(t *testing.T) {
	lambdas := LambdaTable([]LambdaResult{{
		Name: "authorizer", SizeBytes: 8_262_000,
		Cold:      []time.Duration{ms(40), ms(30), ms(50)},
		FirstCall: []time.Duration{ms(20), ms(10), ms(30)},
		Warm:      Sample{Latencies: []time.Duration{ms(1), ms(1), ms(2)}},
	}})
	want := "| authorizer | 8.26 MB (7.88 MiB) | 40.0 ms (30.0 ms–50.0 ms, 3 runs) | 20.0 ms | 1.00 ms | 2.00 ms | 3 |\n"
	if !strings.Contains(lambdas, want) {
		t.Errorf("Lambda table lacks %q:\n%s", want, lambdas)
	}
	decisions := DecisionTable([]Decision{{What: "API key, cached", Bench: "BenchmarkAuthorizeAPIKey/cached", NsPerOp: 813.7}})
	want = "| API key, cached | 0.8 µs | 0 | 0 | `BenchmarkAuthorizeAPIKey/cached` |\n"
	if !strings.Contains(decisions, want) {
		t.Errorf("decision table lacks %q:\n%s", want, decisions)
	}
}

func TestGoalsAreCheckedAgainstTheTargets(t *testing.T) {
	r := &Results{
		Levels: []Level{
			// Added p50: 0.15× (the limit at concurrency 1), p99 0.2×.
			{Concurrency: 1, Direct: sample(1, 1, 1000), Aigate: sample(1.15, 1.2, 900), Portkey: sample(2, 2, 300)},
			// Added p50: 0.1× (the limit above 1) and throughput 8×; p99 0.05×.
			{Concurrency: 16, Direct: sample(1, 1, 1000), Aigate: sample(1.2, 1.1, 2400), Portkey: sample(3, 3, 300)},
			// Added p50: 0.15×, over the limit above 1; throughput 7.9×.
			{Concurrency: 64, Direct: sample(1, 1, 1000), Aigate: sample(1.3, 1.1, 2370), Portkey: sample(3, 3, 300)},
		},
		Lambdas: []LambdaResult{
			{Name: "authorizer", SizeBytes: 8_000_001, Cold: []time.Duration{ms(35)}},
			{Name: "aiapi", SizeBytes: 11_000_000, Cold: []time.Duration{ms(35.1)}},
		},
	}
	got := map[string]bool{}
	for _, g := range append(r.Goals(), r.P99Status()...) {
		got[g.What] = g.Met
	}
	for what, want := range map[string]bool{
		"aigate's added p50 latency over Portkey's at concurrency 1":                      true,
		"aigate's added p50 latency over Portkey's at concurrency 16":                     true,
		"aigate's added p50 latency over Portkey's at concurrency 64":                     false,
		"aigate's throughput over Portkey's at concurrency 16":                            true,
		"aigate's throughput over Portkey's at concurrency 64":                            false,
		"authorizer `bootstrap`, linux/arm64, stripped":                                   false, // one byte over
		"authorizer cold start under the emulator (median, process start → first answer)": true,
		"aiapi cold start under the emulator (median, process start → first answer)":      false,
		"p99 status: aigate's added p99 latency over Portkey's at concurrency 1":          false, // 0.2× > 0.15×
		"p99 status: aigate's added p99 latency over Portkey's at concurrency 16":         true,
		"p99 status: aigate's added p99 latency over Portkey's at concurrency 64":         true,
	} {
		if met, ok := got[what]; !ok || met != want {
			t.Errorf("goal %q: met=%v (present %v), want %v", what, met, ok, want)
		}
	}
	if _, ok := got["aigate's throughput over Portkey's at concurrency 1"]; ok {
		t.Error("a throughput goal at concurrency 1: the issue sets none")
	}
	md := r.Markdown("")
	for _, want := range []string{
		"| authorizer `bootstrap`, linux/arm64, stripped | ≤ 8,000,000 bytes | 8,000,001 bytes (8.00 MB, 7.63 MiB) | **no** |",
		"**p99 status**",
		"| p99 status: aigate's added p99 latency over Portkey's at concurrency 1 | ≤ 0.15× | 0.20× | **no** |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestPathTableShowsAllocationsPerRequest(t *testing.T) {
	r := &Results{Path: []Decision{{What: "one chat completion", Bench: "BenchmarkServeChat", NsPerOp: 812_345, Allocs: 943, Bytes: 56875}}}
	want := "| one chat completion | 812 µs | 943 | 56875 | `BenchmarkServeChat` |\n"
	if got := PathTable(r.Path); !strings.Contains(got, want) {
		t.Errorf("path table lacks %q:\n%s", want, got)
	}
	if md := r.Markdown(""); !strings.Contains(md, "allocations per request") || !strings.Contains(md, want) {
		t.Errorf("report lacks the request-path table:\n%s", md)
	}
}

func TestReplaceGeneratedKeepsTheProse(t *testing.T) {
	block := func(s string) string { return beginMarker + "\n" + s + "\n" + endMarker }
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"empty file gets the block", "", block("new") + "\n"},
		{"prose without markers gets the block appended", "# Title\n\nProse.", "# Title\n\nProse.\n\n" + block("new") + "\n"},
		{"old block is replaced, prose around it kept",
			"# Title\n\n" + block("old") + "\n\n## Analysis\n", "# Title\n\n" + block("new") + "\n\n## Analysis\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ReplaceGenerated(tc.doc, "new\n"); got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestFormatting(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{fmtDur(1500 * time.Nanosecond), "1.5 µs"},
		{fmtDur(412 * time.Microsecond), "412 µs"},
		{fmtDur(ms(1.234)), "1.23 ms"},
		{fmtDur(ms(81.24)), "81.2 ms"},
		{fmtDur(ms(1234)), "1234 ms"},
		{fmtRatio(0.0456), "0.046×"},
		{fmtRatio(4.42), "4.42×"},
		{fmtRatio(math.NaN()), "n/a"},
		{groupThousands(1234567), "1,234,567"},
		{groupThousands(-1234), "-1,234"},
		{groupThousands(999), "999"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestDynamoRowsReadTheBenchmarksCustomMetrics(t *testing.T) {
	out := `goos: linux
BenchmarkDynamoDBPerRequest/cold-caches-2   200   40445859 ns/op   2.000 RCU/op   10000000 WCU/1M-requests   10.00 WCU/op   2.000 reads/op   10.00 writes/op
--- BENCH: BenchmarkDynamoDBPerRequest/cold-caches-2
    dynamodb_bench_test.go:286: per request: GetItem 2.00
BenchmarkDynamoDBPerRequest/unknown-2   200   1 ns/op   1 reads/op
PASS
`
	rows := dynamoRows(out)
	if len(rows) != 1 {
		t.Fatalf("rows = %+v, want the one known case", rows)
	}
	r := rows[0]
	if r.Bench != "BenchmarkDynamoDBPerRequest/cold-caches" || r.Reads != 2 || r.Writes != 10 || r.ReadUnits != 2 || r.WriteUnits != 10 {
		t.Errorf("row = %+v", r)
	}
	table := DynamoTable(rows)
	if !strings.Contains(table, "| 2.00 | 10.00 | 2.00 | 10.00 | 10,000,000 |") {
		t.Errorf("table:\n%s", table)
	}
}
