package gateway

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// syncBuffer is a log destination shared by the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(s.b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestOneLogLinePerRequestWithoutSecrets(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	srv, _ := serve(t, restConfig, Options{Functions: map[string]Invoker{"auth": &testAuthorizer{}}, Logger: logger})

	const secret = "allow-sk_live_0123456789abcdef"
	ok := do(t, "GET", srv.URL+"/v1/models?api_key=querysecret", bearer(secret), "")
	do(t, "GET", srv.URL+"/v1/models", bearer(secret), "")
	do(t, "GET", srv.URL+"/v1/models", bearer("error-log"), "")

	lines := buf.lines(t)
	if len(lines) != 3 {
		t.Fatalf("%d log lines for 3 requests", len(lines))
	}
	first := lines[0]
	for k, want := range map[string]any{
		"request_id": ok.header.Get("x-amzn-RequestId"), "api": "rest", "route": "GET /v1/models",
		"principal_id": "user-1", "auth": "allow", "auth_cache": "miss", "status": float64(200),
	} {
		if first[k] != want {
			t.Errorf("log %s = %#v, want %#v", k, first[k], want)
		}
	}
	if _, ok := first["latency_us"].(float64); !ok {
		t.Error("no latency_us")
	}
	if lines[1]["auth_cache"] != "hit" {
		t.Errorf("second request auth_cache = %v, want hit", lines[1]["auth_cache"])
	}
	if lines[2]["level"] != "ERROR" || !strings.Contains(lines[2]["reason"].(string), "database unreachable") {
		t.Errorf("failure line = %v", lines[2])
	}
	all := buf.b.String()
	for _, s := range []string{"sk_live", "querysecret", "Bearer"} {
		if strings.Contains(all, s) {
			t.Errorf("the log contains %q:\n%s", s, all)
		}
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv, _ := serve(t, restConfig, Options{Functions: map[string]Invoker{"auth": &testAuthorizer{}}, Metrics: reg})
	do(t, "GET", srv.URL+"/v1/models", bearer("allow-m"), "")
	do(t, "POST", srv.URL+"/v1/chat", bearer("allow-m"), "")
	do(t, "GET", srv.URL+"/v1/models", nil, "")
	do(t, "GET", srv.URL+"/nope", nil, "")

	if got := counterValue(t, reg, "aigate_gateway_requests_total", map[string]string{"api": "rest", "route": "GET /v1/models", "status": "200"}); got != 1 {
		t.Errorf("requests_total{GET /v1/models,200} = %v", got)
	}
	if got := counterValue(t, reg, "aigate_gateway_requests_total", map[string]string{"api": "rest", "route": "", "status": "403"}); got != 1 {
		t.Errorf("requests_total{no route,403} = %v", got)
	}
	for labels, want := range map[[2]string]float64{
		{"allow", "miss"}: 1, {"allow", "hit"}: 1, {"unauthorized", "off"}: 1,
	} {
		got := counterValue(t, reg, "aigate_gateway_authorizer_decisions_total",
			map[string]string{"api": "rest", "authorizer": "keys", "outcome": labels[0], "cache": labels[1]})
		if got != want {
			t.Errorf("authorizer_decisions_total%v = %v, want %v", labels, got, want)
		}
	}
	if got := counterValue(t, reg, "aigate_gateway_authorizer_invocations_total", map[string]string{"api": "rest", "authorizer": "keys", "result": "ok"}); got != 1 {
		t.Errorf("authorizer_invocations_total{ok} = %v", got)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	histograms := map[string]uint64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if h := m.GetHistogram(); h != nil {
				histograms[mf.GetName()] += h.GetSampleCount()
			}
		}
	}
	if histograms["aigate_gateway_request_duration_seconds"] != 4 || histograms["aigate_gateway_authorizer_invocation_duration_seconds"] != 1 {
		t.Errorf("histogram sample counts = %v", histograms)
	}
}

// counterValue returns the value of one series of a counter, 0 if absent.
func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; !ok || v != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
