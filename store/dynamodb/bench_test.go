package dynamodb

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store/storetest"
)

// The benchmarks measure round trips to dynalite on loopback (one Node.js
// process, in memory): they show what the store adds per call, not what
// DynamoDB takes (single-digit milliseconds per request in a region).

// latencies records one duration per iteration and reports percentiles.
type latencies []time.Duration

func (l latencies) report(b *testing.B, name string) {
	if len(l) == 0 {
		return
	}
	s := slices.Clone(l)
	slices.Sort(s)
	b.ReportMetric(float64(s[len(s)/2].Microseconds()), name+"p50-µs")
	b.ReportMetric(float64(s[len(s)*99/100].Microseconds()), name+"p99-µs")
}

// BenchmarkGetKey is the authorizer's read: one strongly consistent
// GetItem of a key among many.
func BenchmarkGetKey(b *testing.B) {
	s := openClosing(b)
	for i := range 200 {
		k := storetest.NewKey(fmt.Sprintf("key%04d", i))
		if err := s.CreateKey(b.Context(), k, record.AuditEvent{Action: record.ActionCreated}); err != nil {
			b.Fatal(err)
		}
	}
	ctx := b.Context()
	var lat latencies
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		if _, err := s.GetKey(ctx, "key0100"); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	lat.report(b, "")
}

// BenchmarkReserveSettle is the AI API's bookkeeping for one request:
// Reserve (three conditional counter updates and the reservation item)
// then Settle (commit, ledger row, delete, three counter adjustments).
func BenchmarkReserveSettle(b *testing.B) {
	s := openClosing(b)
	ctx := b.Context()
	l := record.Limits{RPM: 1 << 40, TPM: 1 << 40, TokensPerDay: 1 << 50, TokensPerMonth: 1 << 50}
	now := time.Now()
	var reserve, settle, both latencies
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		id := fmt.Sprint("req-", i)
		start := time.Now()
		if _, err := s.Reserve(ctx, quota.Reservation{
			ID: id, PrincipalID: "p", Tenant: "acme", Model: "m", Tokens: 1000,
			Windows: quota.WindowsAt(now), CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute),
		}, l); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if _, err := s.Settle(ctx, quota.Settlement{Reservation: quota.Reservation{ID: id}, PromptTokens: 300, CompletionTokens: 200, At: mid}); err != nil {
			b.Fatal(err)
		}
		end := time.Now()
		reserve = append(reserve, mid.Sub(start))
		settle = append(settle, end.Sub(mid))
		both = append(both, end.Sub(start))
	}
	both.report(b, "")
	reserve.report(b, "reserve-")
	settle.report(b, "settle-")
}
