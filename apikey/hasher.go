package apikey

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"sync"
)

// HashKeyLength is the length in bytes of the key of a Hasher, and the
// minimum NewHasher accepts.
const HashKeyLength = 32

// HashLength is the length in bytes of a hash from Hasher.
const HashLength = sha256.Size

// domain separates these hashes from any other use of the same hash key. The
// NUL bytes cannot occur in an id or a secret, so the message is unambiguous;
// the "v1" lets a later format hash differently.
const domain = "aigate/apikey/v1\x00"

// Hasher computes the keyed hash of a key's secret,
// HMAC-SHA-256(hashKey, "aigate/apikey/v1\x00" + id + "\x00" + secret),
// which is the only form in which a secret is ever stored. Without the hash
// key, a stolen store does not let anyone test guesses offline; binding the
// id means a hash copied onto another key's record does not verify.
//
// A Hasher is safe for concurrent use. The zero Hasher is not usable: call
// NewHasher.
type Hasher struct {
	states sync.Pool // of *hashState
}

// hashState is one HMAC with a scratch buffer, pooled so that Verify, which
// runs on every request, does not allocate.
type hashState struct {
	mac hash.Hash
	msg []byte
	sum [HashLength]byte
}

// NewHasher returns a Hasher keyed with hashKey, which must be at least
// HashKeyLength bytes from a secret store (see NewHashKey). The Hasher keeps
// its own copy.
func NewHasher(hashKey []byte) (*Hasher, error) {
	if len(hashKey) < HashKeyLength {
		return nil, fmt.Errorf("apikey: hash key is %d bytes, need at least %d", len(hashKey), HashKeyLength)
	}
	key := append([]byte(nil), hashKey...)
	h := &Hasher{}
	h.states.New = func() any {
		return &hashState{
			mac: hmac.New(sha256.New, key),
			msg: make([]byte, 0, len(domain)+IDLength+1+SecretLength),
		}
	}
	return h, nil
}

// NewHashKey returns HashKeyLength random bytes for NewHasher.
func NewHashKey() ([]byte, error) {
	key := make([]byte, HashKeyLength)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return nil, fmt.Errorf("apikey: read random bytes: %w", err)
	}
	return key, nil
}

// Hash returns the keyed hash of k, HashLength bytes, to store.
func (h *Hasher) Hash(k Key) []byte {
	st := h.sum(k)
	out := append([]byte(nil), st.sum[:]...)
	h.put(st)
	return out
}

// Verify reports whether hash is the keyed hash of k, in constant time with
// respect to the contents of hash.
func (h *Hasher) Verify(k Key, hash []byte) bool {
	st := h.sum(k)
	ok := hmac.Equal(st.sum[:], hash)
	h.put(st)
	return ok
}

func (h *Hasher) sum(k Key) *hashState {
	st := h.states.Get().(*hashState)
	st.msg = append(st.msg[:0], domain...)
	st.msg = append(st.msg, k.ID...)
	st.msg = append(st.msg, 0)
	st.msg = append(st.msg, k.Secret...)
	st.mac.Reset()
	st.mac.Write(st.msg)
	st.mac.Sum(st.sum[:0])
	return st
}

// put wipes the copy of the secret before pooling the state.
func (h *Hasher) put(st *hashState) {
	clear(st.msg)
	if cap(st.msg) > 256 {
		// A Key built by hand with a huge secret must not pin memory.
		st.msg = nil
	}
	h.states.Put(st)
}
