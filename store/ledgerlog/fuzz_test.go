package ledgerlog

import (
	"bytes"
	"testing"
)

// FuzzParse: the log may be torn or damaged anywhere; reading it never
// panics, and what it reads is exactly what those records encode to (so a
// record is never half-read or misread).
func FuzzParse(f *testing.F) {
	whole := frames(sample())
	f.Add(whole)
	f.Add(whole[:len(whole)/2])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		records, n := Parse(b)
		if n < 0 || n > len(b) {
			t.Fatalf("Parse read %d of %d bytes", n, len(b))
		}
		if got := frames(records); !bytes.Equal(got, b[:n]) {
			t.Fatalf("the %d records read encode to %x, not the %x they were read from", len(records), got, b[:n])
		}
	})
}
