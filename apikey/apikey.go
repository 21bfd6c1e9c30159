// Package apikey owns the one API key format of the project: generating keys,
// parsing them cheaply (length, alphabets, checksum) before any store read,
// and the keyed hash that is the only form in which a secret is ever stored.
//
// It must never log, print or put a key or any part of its secret into an
// error, never store or compare a secret other than through Hasher, and
// never use a source of randomness other than crypto/rand.
package apikey

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
)

// The format is
//
//	aig_ + ID (12) + _ + secret (32) + checksum (6)
//
// ID: 12 characters of lowercase base32, 60 random bits; it is not secret
// and names the key in the store and in logs. Secret: 32 characters of
// base62, about 190 random bits. Checksum: the CRC-32 (IEEE) of everything
// before it, as 6 base62 digits, so that a mistyped or made-up key is
// refused without a store read, like GitHub's tokens.
const (
	// Prefix starts every key; it tells an API key from a JWT.
	Prefix = "aig_"
	// IDLength, SecretLength and ChecksumLength are the lengths in
	// characters of the three random or derived parts.
	IDLength       = 12
	SecretLength   = 32
	ChecksumLength = 6
	// Length is the length of a whole key: 55.
	Length = len(Prefix) + IDLength + 1 + SecretLength + ChecksumLength

	idAlphabet     = "abcdefghijklmnopqrstuvwxyz234567"
	base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

	idStart       = len(Prefix)
	separatorAt   = idStart + IDLength
	secretStart   = separatorAt + 1
	checksumStart = secretStart + SecretLength
)

// ErrMalformed is returned, possibly wrapped, for any string that is not a
// well-formed key. No error of this package contains its input.
var ErrMalformed = errors.New("apikey: malformed key")

// The reasons are prebuilt so that refusing garbage, which anyone can send,
// costs no allocation either.
var (
	errLength    = fmt.Errorf("%w: wrong length", ErrMalformed)
	errPrefix    = fmt.Errorf("%w: wrong prefix", ErrMalformed)
	errSeparator = fmt.Errorf("%w: no separator after the id", ErrMalformed)
	errID        = fmt.Errorf("%w: bad character in the id", ErrMalformed)
	errSecret    = fmt.Errorf("%w: bad character in the secret", ErrMalformed)
	errChecksum  = fmt.Errorf("%w: bad checksum", ErrMalformed)
)

// Key is a parsed key.
//
// It prints itself redacted with every fmt verb, through log/slog and as
// JSON; call
// String explicitly to get the full key, which only the code that shows a
// new key to its owner should ever do.
type Key struct {
	ID     string // 12 characters, not secret
	Secret string // 32 characters
}

// String returns the full key, checksum included: Parse(k.String()) == k for
// every key Parse returns.
func (k Key) String() string {
	b := make([]byte, 0, Length)
	b = append(b, Prefix...)
	b = append(b, k.ID...)
	b = append(b, '_')
	b = append(b, k.Secret...)
	b = appendChecksum(b, checksum(string(b)))
	return string(b)
}

// Format prints the key redacted, "aig_<id>_[redacted]", whatever the verb,
// so that a Key passed to fmt or a logger by mistake does not leak. Use
// String for the full key.
func (k Key) Format(f fmt.State, verb rune) {
	io.WriteString(f, k.redacted())
}

// LogValue keeps the secret out of log/slog output.
func (k Key) LogValue() slog.Value {
	return slog.StringValue(k.redacted())
}

// MarshalJSON encodes the key redacted, as a JSON string, for the same
// reason: nothing should serialise a Key, and one that does must not leak.
func (k Key) MarshalJSON() ([]byte, error) {
	return json.Marshal(k.redacted())
}

func (k Key) redacted() string {
	return Prefix + k.ID + "_[redacted]"
}

// LooksLikeKey reports whether credential has the shape of an API key rather
// than a JWT: it starts with Prefix. It says nothing about validity; Parse
// does.
func LooksLikeKey(credential string) bool {
	return len(credential) >= len(Prefix) && credential[:len(Prefix)] == Prefix
}

// Parse checks s cheapest first (length, prefix, separator, alphabets, then
// checksum) and returns its parts. Any failure is ErrMalformed, wrapped with
// a reason that never quotes s. Parse does not allocate: the Key's fields
// are substrings of s.
func Parse(s string) (Key, error) {
	if len(s) != Length {
		return Key{}, errLength
	}
	if s[:len(Prefix)] != Prefix {
		return Key{}, errPrefix
	}
	if s[separatorAt] != '_' {
		return Key{}, errSeparator
	}
	id, secret, sum := s[idStart:separatorAt], s[secretStart:checksumStart], s[checksumStart:]
	if !validID(id) {
		return Key{}, errID
	}
	for i := 0; i < len(secret); i++ {
		if base62Value(secret[i]) < 0 {
			return Key{}, errSecret
		}
	}
	var got uint64
	for i := 0; i < len(sum); i++ {
		v := base62Value(sum[i])
		if v < 0 {
			return Key{}, errChecksum
		}
		got = got*62 + uint64(v)
	}
	// Comparing the decoded number, not the text, still admits only one
	// spelling: 6 base62 digits are fixed-width and every value above
	// 2^32-1 fails here.
	if got != uint64(checksum(s[:checksumStart])) {
		return Key{}, errChecksum
	}
	return Key{ID: id, Secret: secret}, nil
}

// Generate returns a new random key, both as the full string to show its
// owner once and parsed.
func Generate() (full string, k Key, err error) {
	id, err := GenerateID()
	if err != nil {
		return "", Key{}, err
	}
	secret, err := generateSecret()
	if err != nil {
		return "", Key{}, err
	}
	k = Key{ID: id, Secret: secret}
	return k.String(), k, nil
}

// GenerateID returns a new random key id: 12 characters of lowercase base32,
// 60 bits. Collisions are unlikely but possible at scale: the store must
// refuse to create a key whose id exists.
func GenerateID() (string, error) {
	var buf [8]byte
	if _, err := io.ReadFull(rand.Reader, buf[:]); err != nil {
		return "", fmt.Errorf("apikey: read random bytes: %w", err)
	}
	// 32 is a power of two, so taking 5 bits at a time from 60 of the 64
	// random bits is uniform.
	v := uint64(buf[0])<<56 | uint64(buf[1])<<48 | uint64(buf[2])<<40 | uint64(buf[3])<<32 |
		uint64(buf[4])<<24 | uint64(buf[5])<<16 | uint64(buf[6])<<8 | uint64(buf[7])
	id := make([]byte, IDLength)
	for i := range id {
		id[i] = idAlphabet[v&31]
		v >>= 5
	}
	return string(id), nil
}

// generateSecret returns SecretLength uniform base62 characters. A byte is
// used only when it is below 248 = 4*62, so that byte%62 is uniform; the
// rest are thrown away (rejection sampling) instead of biasing the first
// characters of the alphabet.
func generateSecret() (string, error) {
	const limit = 256 - 256%len(base62Alphabet) // 248
	secret := make([]byte, 0, SecretLength)
	var buf [SecretLength + 8]byte
	for len(secret) < SecretLength {
		if _, err := io.ReadFull(rand.Reader, buf[:]); err != nil {
			return "", fmt.Errorf("apikey: read random bytes: %w", err)
		}
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			secret = append(secret, base62Alphabet[int(b)%len(base62Alphabet)])
			if len(secret) == SecretLength {
				break
			}
		}
	}
	return string(secret), nil
}

// checksum is the CRC-32 (IEEE) of s, computed over the string directly so
// that Parse does not have to copy it into a []byte.
func checksum(s string) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = crc32.IEEETable[byte(crc)^s[i]] ^ (crc >> 8)
	}
	return ^crc
}

func appendChecksum(b []byte, sum uint32) []byte {
	var digits [ChecksumLength]byte
	v := uint64(sum)
	for i := ChecksumLength - 1; i >= 0; i-- {
		digits[i] = base62Alphabet[v%62]
		v /= 62
	}
	return append(b, digits[:]...)
}

func idValue(c byte) int {
	switch {
	case 'a' <= c && c <= 'z':
		return int(c - 'a')
	case '2' <= c && c <= '7':
		return int(c-'2') + 26
	}
	return -1
}

func base62Value(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'Z':
		return int(c-'A') + 10
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 36
	}
	return -1
}
