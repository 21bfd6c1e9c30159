package ledgerlog

import (
	"path/filepath"
	"testing"
)

// BenchmarkAppend is the log's part of a ledger change: encoding a settle
// record and one write(2) of it (no fsync).
func BenchmarkAppend(b *testing.B) {
	l, _, _, err := Open(filepath.Join(b.TempDir(), "log"))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	r := sample()[2]
	var frame []byte
	b.ReportAllocs()
	for b.Loop() {
		r.Seq++
		frame = Append(frame[:0], &r)
		if err := l.Append(frame); err != nil {
			b.Fatal(err)
		}
		if l.Size() > 64<<20 {
			l.Truncate()
		}
	}
}
