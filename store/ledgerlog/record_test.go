package ledgerlog

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// sample has one record of each operation, numbered from 1.
func sample() []Record {
	r := Reservation{ID: "req-1", PrincipalID: "key:abc", Tenant: "acme", Model: "gpt-4o", Protocol: "chat",
		Tokens: 1200, CostMicros: 3400, TenantWindows: true,
		Minute: 1_741_964_940_000_000_000, Day: 1_741_910_400_000_000_000, Month: 1_740_787_200_000_000_000,
		CreatedAt: 1_741_964_966_535_897_932, ExpiresAt: 1_741_965_866_535_897_932}
	return []Record{
		{Seq: 1, Op: OpReserve, Reservation: r},
		{Seq: 2, Op: OpExtend, Reservation: Reservation{ID: "req-1", ExpiresAt: r.ExpiresAt + 1}},
		{Seq: 3, Op: OpSettle, Reservation: r, Usage: Usage{Prompt: 10, Completion: 20, Cached: 4, CacheWrite: 2,
			CostMicros: 77, PriceInput: 2_500_000, PriceOutput: 10_000_000, PriceCachedInput: 1_250_000,
			PriceCacheWrite: 3_000_000, Unpriced: false, At: r.CreatedAt + 5, Late: true}},
		{Seq: 4, Op: OpRelease, Reservation: r},
		{Seq: 5, Op: OpExpire, Expired: []Reservation{r, {ID: "req-2", PrincipalID: "jwt:iss#sub", Tokens: -1}}, Now: r.ExpiresAt},
		{Seq: 6, Op: OpExpire, Now: 0},
	}
}

func frames(records []Record) []byte {
	var b []byte
	for i := range records {
		b = Append(b, &records[i])
	}
	return b
}

func TestRecordsReadBackEqual(t *testing.T) {
	want := sample()
	b := frames(want)
	got, n := Parse(b)
	if n != len(b) {
		t.Fatalf("Parse read %d of %d bytes", n, len(b))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse = %+v\nwant %+v", got, want)
	}
}

func TestParseStopsAtTheFirstBadFrame(t *testing.T) {
	records := sample()
	whole := frames(records)
	three := len(frames(records[:3]))
	for _, tc := range []struct {
		name  string
		bytes func() []byte
		want  int // records read
		err   error
	}{
		{"torn in the header", func() []byte { return whole[:three+5] }, 3, ErrTorn},
		{"torn in the body", func() []byte { return whole[:len(whole)-1] }, 5, ErrTorn},
		{"flipped bit", func() []byte {
			b := bytes.Clone(whole)
			b[three+frameHeader+3] ^= 0x10
			return b
		}, 3, ErrCorrupt},
		{"zeroed tail (a file extended, never written)", func() []byte {
			return append(bytes.Clone(whole[:three]), make([]byte, 64)...)
		}, 3, ErrCorrupt},
		{"sequence gap", func() []byte {
			rs := sample()
			rs[3].Seq = 9
			return frames(rs)
		}, 3, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.bytes()
			got, n := Parse(b)
			if len(got) != tc.want || n != len(frames(records[:tc.want])) {
				t.Fatalf("Parse read %d records, %d bytes; want %d records", len(got), n, tc.want)
			}
			if tc.err != nil {
				if _, _, err := Decode(b[n:]); !errors.Is(err, tc.err) {
					t.Fatalf("Decode of the bad frame = %v, want %v", err, tc.err)
				}
			}
		})
	}
}

func TestOpenCutsTheBadTailAndAppendsAfterIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	records := sample()
	whole := frames(records)
	if err := os.WriteFile(path, whole[:len(whole)-3], 0o600); err != nil {
		t.Fatal(err)
	}
	l, got, cut, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if len(got) != 5 || cut != int64(len(whole)-3-len(frames(records[:5]))) {
		t.Fatalf("Open read %d records and cut %d bytes", len(got), cut)
	}
	next := Record{Seq: 6, Op: OpRelease, Reservation: Reservation{ID: "after"}}
	if err := l.Append(Append(nil, &next)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	again, n := Parse(b)
	if n != len(b) || len(again) != 6 || again[5].Reservation.ID != "after" {
		t.Fatalf("after the append the file reads %d records (%d of %d bytes)", len(again), n, len(b))
	}
	if err := l.Truncate(); err != nil {
		t.Fatal(err)
	}
	if empty, err := Empty(path); err != nil || !empty {
		t.Fatalf("Empty after Truncate = %v, %v", empty, err)
	}
}
