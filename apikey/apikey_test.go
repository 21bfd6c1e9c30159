package apikey

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"strings"
	"testing"
)

func TestGeneratedKeysParse(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		full, k, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		if len(full) != Length || Length != 55 {
			t.Fatalf("key is %d characters, want 55", len(full))
		}
		if !LooksLikeKey(full) {
			t.Fatal("generated key does not look like a key")
		}
		got, err := Parse(full)
		if err != nil {
			t.Fatalf("generated key does not parse: %v", err)
		}
		if got != k {
			t.Fatal("Parse disagrees with Generate")
		}
		if k.String() != full {
			t.Fatal("String() differs from the generated key")
		}
		if seen[k.ID] || seen[k.Secret] {
			t.Fatal("repeated id or secret")
		}
		seen[k.ID], seen[k.Secret] = true, true
	}
}

// TestSecretCharactersAreUniform catches a modulo bias: without rejection
// sampling the first 8 characters of the alphabet would come up 5/4 as
// often as the others.
func TestSecretCharactersAreUniform(t *testing.T) {
	counts := make(map[byte]int)
	const keys = 2000
	for range keys {
		s, err := generateSecret()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(s); i++ {
			counts[s[i]]++
		}
	}
	if len(counts) != 62 {
		t.Fatalf("%d distinct characters, want 62", len(counts))
	}
	want := float64(keys*SecretLength) / 62 // ~1032
	var low, high float64
	for i := 0; i < 8; i++ {
		low += float64(counts[base62Alphabet[i]])
	}
	for i := 54; i < 62; i++ {
		high += float64(counts[base62Alphabet[i]])
	}
	// Biased, low would be ~1.25x high; uniform, they differ by a few
	// percent (the standard deviation of each sum is about 90).
	if low/high > 1.12 || low/high < 0.89 {
		t.Fatalf("first 8 characters drawn %v times, last 8 %v times (expected ~%v each)", low, high, 8*want)
	}
}

func TestGenerateSecretForKeepsTheID(t *testing.T) {
	full, k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := GenerateSecretFor(k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.ID != k.ID || rotated.Secret == k.Secret || len(rotated.Secret) != SecretLength {
		t.Fatal("rotation must keep the id and replace the secret")
	}
	if got, err := Parse(rotated.String()); err != nil || got != rotated || rotated.String() == full {
		t.Fatalf("rotated key does not parse: %v", err)
	}
	for _, bad := range []string{"", "ABCDEFGHIJ23", k.ID + "a", "abcdefghij01"} {
		if _, err := GenerateSecretFor(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("GenerateSecretFor(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestIDUsesWholeAlphabet(t *testing.T) {
	seen := make(map[byte]bool)
	for range 200 {
		id, err := GenerateID()
		if err != nil {
			t.Fatal(err)
		}
		if len(id) != IDLength {
			t.Fatalf("id %q has %d characters", id, len(id))
		}
		for i := 0; i < len(id); i++ {
			if !strings.ContainsRune(idAlphabet, rune(id[i])) {
				t.Fatalf("id %q has a character outside the alphabet", id)
			}
			seen[id[i]] = true
		}
	}
	if len(seen) != 32 {
		t.Fatalf("ids used %d of 32 characters", len(seen))
	}
}

func TestEverySingleCharacterChangeIsRefused(t *testing.T) {
	full, _, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	// Characters from each alphabet and from none of them.
	replacements := "aAzZ09_-+/=.~ \x00\xff" + idAlphabet[:8] + base62Alphabet[50:]
	for pos := 0; pos < len(full); pos++ {
		for _, r := range []byte(replacements) {
			if full[pos] == r {
				continue
			}
			mutated := full[:pos] + string(r) + full[pos+1:]
			if _, err := Parse(mutated); !errors.Is(err, ErrMalformed) {
				t.Fatalf("changing position %d to %q was accepted (err %v)", pos, r, err)
			}
		}
	}
}

func TestSwappedNeighboursAreRefused(t *testing.T) {
	full, _, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for pos := 0; pos+1 < len(full); pos++ {
		if full[pos] == full[pos+1] {
			continue
		}
		b := []byte(full)
		b[pos], b[pos+1] = b[pos+1], b[pos]
		if _, err := Parse(string(b)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("swapping positions %d and %d was accepted", pos, pos+1)
		}
	}
}

func TestParseRefusesMalformedKeys(t *testing.T) {
	full, _, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", errLength},
		{"prefix only", Prefix, errLength},
		{"one short", full[:Length-1], errLength},
		{"one long", full + "0", errLength},
		{"leading space at full length", " " + full[:Length-1], errPrefix},
		{"trailing newline", full + "\n", errLength},
		{"bearer scheme left on", "Bearer " + full, errLength},
		{"uppercase prefix", "AIG_" + full[len(Prefix):], errPrefix},
		{"other prefix", "ghp_" + full[len(Prefix):], errPrefix},
		{"separator replaced", full[:separatorAt] + "-" + full[separatorAt+1:], errSeparator},
		{"uppercase id", full[:idStart] + strings.ToUpper(full[idStart:separatorAt]) + full[separatorAt:], errID},
		{"digit outside base32 in id", full[:idStart] + "0" + full[idStart+1:], errID},
		{"underscore in secret", full[:secretStart] + "_" + full[secretStart+1:], errSecret},
		{"multibyte character in secret", full[:secretStart] + "é" + full[secretStart+2:], errSecret},
		{"checksum of another key", full[:checksumStart] + otherChecksum(t), errChecksum},
		{"checksum above 32 bits", full[:checksumStart] + "zzzzzz", errChecksum},
		{"checksum with bad character", full[:checksumStart] + "00000_", errChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err != tt.want {
				t.Fatalf("Parse = %v, want %v", err, tt.want)
			}
			if !errors.Is(err, ErrMalformed) || !strings.HasPrefix(err.Error(), "apikey: ") {
				t.Fatalf("error %q is not ErrMalformed", err)
			}
		})
	}
}

// otherChecksum is the checksum of a fresh key: a different one, but for a
// 2^-32 chance.
func otherChecksum(t *testing.T) string {
	other, _, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	return other[checksumStart:]
}

func TestParseErrorNeverContainsTheInput(t *testing.T) {
	full, k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	inputs := []string{
		full[:Length-1] + "!",
		full[:checksumStart] + "000000",
		full + "x",
		"AIG_" + full[len(Prefix):],
		full[:secretStart] + "_" + full[secretStart+1:],
	}
	for _, in := range inputs {
		_, err := Parse(in)
		if err == nil {
			t.Fatal("malformed key parsed")
		}
		msg := err.Error()
		if strings.Contains(msg, k.Secret[:8]) || strings.Contains(msg, k.Secret[8:16]) || strings.Contains(msg, k.ID) {
			t.Fatalf("error %q contains part of the input", msg)
		}
	}
}

// TestKnownKeyPinsTheFormat pins the format with a vector computed outside
// Go (Python's zlib.crc32): changing the alphabet, the order of the parts or
// the checksum breaks every issued key.
func TestKnownKeyPinsTheFormat(t *testing.T) {
	const full = "aig_abcdefghij23_0123456789ABCDEFGHIJabcdefghijAB2VfDUE"
	k := Key{ID: "abcdefghij23", Secret: "0123456789ABCDEFGHIJabcdefghijAB"}
	if got := k.String(); got != full {
		t.Fatalf("String() = %q, want %q", got, full)
	}
	got, err := Parse(full)
	if err != nil || got != k {
		t.Fatalf("Parse = %+v, %v", got, err)
	}
}

func TestChecksumIsCRC32IEEE(t *testing.T) {
	full, _, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := checksum(full[:checksumStart]), crc32.ChecksumIEEE([]byte(full[:checksumStart])); got != want {
		t.Fatalf("checksum = %08x, crc32 = %08x", got, want)
	}
	for _, sum := range []uint32{0, 1, 61, 62, 1<<32 - 1} {
		enc := string(appendChecksum(nil, sum))
		if len(enc) != ChecksumLength {
			t.Fatalf("checksum %d encodes as %q", sum, enc)
		}
	}
	if got := string(appendChecksum(nil, 0)); got != "000000" {
		t.Fatalf("zero encodes as %q", got)
	}
	if got := string(appendChecksum(nil, 1<<32-1)); got != "4gfFC3" {
		t.Fatalf("max encodes as %q", got)
	}
}

func TestLooksLikeKeyGoesByPrefixOnly(t *testing.T) {
	for in, want := range map[string]bool{
		"aig_":              true,
		"aig_anything":      true,
		"aig":               false,
		"":                  false,
		"AIG_x":             false,
		"eyJhbGciOi.eyJ.x":  false,
		"Bearer aig_abcdef": false,
	} {
		if got := LooksLikeKey(in); got != want {
			t.Errorf("LooksLikeKey(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestKeyNeverPrintsItsSecretByAccident(t *testing.T) {
	full, k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("key", "key", k)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("key", "key", k, "ptr", &k)
	j, _ := json.Marshal(struct{ K Key }{k})
	outputs := []string{
		fmt.Sprint(k), fmt.Sprintf("%s %v %+v %#v %q %x", k, k, k, k, k, k),
		fmt.Sprintf("%v", &k), fmt.Sprintf("%+v", struct{ K Key }{k}),
		logged.String(), string(j),
	}
	for _, out := range outputs {
		if strings.Contains(out, k.Secret) {
			t.Fatalf("printed the secret: %s", out)
		}
		if !strings.Contains(out, k.ID) {
			t.Fatalf("redacted form lost the id: %s", out)
		}
	}
	if k.String() != full {
		t.Fatal("String() must still return the full key")
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	full, _, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	bad := full[:checksumStart] + "000000"
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Parse(full); err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(bad); err == nil {
			t.Fatal("bad checksum parsed")
		}
	})
	if allocs != 0 {
		t.Fatalf("Parse allocates %v times per call", allocs)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("aig_abcdefghij23_0123456789ABCDEFGHIJabcdefghij0123000000")
	f.Add("aig_")
	f.Add("")
	f.Add("Bearer aig_x")
	f.Add(Key{ID: "abcdefghij23", Secret: "0123456789ABCDEFGHIJabcdefghijAB"}.String())
	f.Fuzz(func(t *testing.T, s string) {
		k, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			if len(s) >= 8 && strings.Contains(err.Error(), s) {
				t.Fatalf("error %q contains the input", err)
			}
			return
		}
		if got := k.String(); got != s {
			t.Fatalf("String() = %q, parsed from %q", got, s)
		}
		if !LooksLikeKey(s) {
			t.Fatal("a parsed key does not look like a key")
		}
	})
}

func BenchmarkParse(b *testing.B) {
	full, _, err := Generate()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(full); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Generate(); err != nil {
			b.Fatal(err)
		}
	}
}
