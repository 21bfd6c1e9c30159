package apikey

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"sync"
	"testing"
)

func testHasher(t testing.TB) *Hasher {
	t.Helper()
	key, err := NewHashKey()
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHasher(key)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashIsDomainSeparatedHMAC(t *testing.T) {
	key := bytes.Repeat([]byte{7}, HashKeyLength)
	h, err := NewHasher(key)
	if err != nil {
		t.Fatal(err)
	}
	k := Key{ID: "abcdefghij23", Secret: "0123456789ABCDEFGHIJabcdefghijAB"}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("aigate/apikey/v1\x00abcdefghij23\x000123456789ABCDEFGHIJabcdefghijAB"))
	if got, want := h.Hash(k), mac.Sum(nil); !bytes.Equal(got, want) {
		t.Fatalf("Hash = %x, want %x", got, want)
	}
}

func TestHashesDifferForDifferentIDsSecretsAndHashKeys(t *testing.T) {
	h := testHasher(t)
	_, k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	_, other, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	base := h.Hash(k)
	if len(base) != HashLength {
		t.Fatalf("hash is %d bytes", len(base))
	}
	variants := map[string][]byte{
		"other id":        h.Hash(Key{ID: other.ID, Secret: k.Secret}),
		"other secret":    h.Hash(Key{ID: k.ID, Secret: other.Secret}),
		"id/secret shift": h.Hash(Key{ID: k.ID + k.Secret[:1], Secret: k.Secret[1:]}),
		"other hash key":  testHasher(t).Hash(k),
	}
	for name, v := range variants {
		if bytes.Equal(v, base) {
			t.Errorf("%s gives the same hash", name)
		}
	}
	if !bytes.Equal(h.Hash(k), base) {
		t.Fatal("Hash is not deterministic")
	}
}

func TestVerifyAcceptsOnlyTheMatchingHash(t *testing.T) {
	h := testHasher(t)
	_, k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	_, other, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	hash := h.Hash(k)
	flipped := append([]byte(nil), hash...)
	flipped[HashLength-1] ^= 1
	tests := []struct {
		name string
		k    Key
		hash []byte
		want bool
	}{
		{"matching key and hash", k, hash, true},
		{"other key", other, hash, false},
		{"same id, other secret", Key{ID: k.ID, Secret: other.Secret}, hash, false},
		{"same secret, other id", Key{ID: other.ID, Secret: k.Secret}, hash, false},
		{"one bit flipped", k, flipped, false},
		{"truncated hash", k, hash[:HashLength-1], false},
		{"empty hash", k, nil, false},
		{"empty key", Key{}, hash, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.Verify(tt.k, tt.hash); got != tt.want {
				t.Fatalf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewHasherRefusesShortKeys(t *testing.T) {
	for _, n := range []int{0, 16, HashKeyLength - 1} {
		key := bytes.Repeat([]byte("s"), n)
		if _, err := NewHasher(key); err == nil {
			t.Fatalf("accepted a %d-byte hash key", n)
		} else if !strings.HasPrefix(err.Error(), "apikey: ") || (n > 0 && strings.Contains(err.Error(), string(key))) {
			t.Fatalf("bad error %q", err)
		}
	}
	if _, err := NewHasher(bytes.Repeat([]byte("s"), 64)); err != nil {
		t.Fatalf("refused a 64-byte hash key: %v", err)
	}
}

func TestHasherKeepsItsOwnCopyOfTheHashKey(t *testing.T) {
	key := bytes.Repeat([]byte{1}, HashKeyLength)
	h, err := NewHasher(key)
	if err != nil {
		t.Fatal(err)
	}
	// The pool builds its first HMAC state only now, after the caller
	// wiped its slice.
	clear(key)
	k := Key{ID: "abcdefghij23", Secret: "0123456789ABCDEFGHIJabcdefghijAB"}
	want, err := NewHasher(bytes.Repeat([]byte{1}, HashKeyLength))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(h.Hash(k), want.Hash(k)) {
		t.Fatal("hash changed after the caller wiped its key")
	}
}

func TestNewHashKeyIsRandom(t *testing.T) {
	a, err := NewHashKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewHashKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != HashKeyLength || bytes.Equal(a, b) {
		t.Fatalf("NewHashKey gave %d bytes, equal twice: %v", len(a), bytes.Equal(a, b))
	}
}

func TestHasherIsSafeForConcurrentUse(t *testing.T) {
	h := testHasher(t)
	keys := make([]Key, 8)
	hashes := make([][]byte, len(keys))
	for i := range keys {
		_, k, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		keys[i], hashes[i] = k, h.Hash(k)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				j := (g + i) % len(keys)
				if !h.Verify(keys[j], hashes[j]) {
					t.Error("concurrent Verify refused a good key")
					return
				}
				if h.Verify(keys[j], hashes[(j+1)%len(keys)]) {
					t.Error("concurrent Verify accepted a wrong hash")
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestVerifyAllocatesAtMostOnce(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	h := testHasher(t)
	_, k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	hash := h.Hash(k)
	allocs := testing.AllocsPerRun(200, func() {
		if !h.Verify(k, hash) {
			t.Fatal("Verify refused")
		}
	})
	if allocs > 1 {
		t.Fatalf("Verify allocates %v times per call", allocs)
	}
}

func BenchmarkVerify(b *testing.B) {
	h := testHasher(b)
	_, k, err := Generate()
	if err != nil {
		b.Fatal(err)
	}
	hash := h.Hash(k)
	b.ReportAllocs()
	for b.Loop() {
		if !h.Verify(k, hash) {
			b.Fatal("Verify refused")
		}
	}
}

func BenchmarkVerifyParallel(b *testing.B) {
	h := testHasher(b)
	_, k, err := Generate()
	if err != nil {
		b.Fatal(err)
	}
	hash := h.Hash(k)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !h.Verify(k, hash) {
				b.Error("Verify refused")
				return
			}
		}
	})
}
