package record

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Principal ids carry their kind (and a JWT's issuer), so that an API key's
// id and a JWT subject can never name the same principal: every piece of
// state keyed by a principal (rate-limit windows, reservations, the usage
// ledger) and the principalId API Gateway receives use these forms.
//
//	key:KEYID          an API key
//	jwt:ISSUER#SUBJECT a JWT's principal claim, per issuer
//
// An OIDC issuer has no fragment, so the first '#' after "jwt:" ends it
// (jwtauth refuses issuers that contain one). Ledger rows written before
// principal ids had a kind, whose issuer was not recorded, are migrated to
// "jwt:#SUBJECT": an empty issuer, which no configured issuer has.
const (
	KeyPrincipalPrefix = "key:"
	JWTPrincipalPrefix = "jwt:"
)

// KeyPrincipalID is the principal id of the API key with id keyID.
func KeyPrincipalID(keyID string) string { return KeyPrincipalPrefix + keyID }

// JWTPrincipalID is the principal id of a JWT whose principal claim is
// subject, from issuer.
func JWTPrincipalID(issuer, subject string) string {
	return JWTPrincipalPrefix + issuer + "#" + subject
}

// KeyIDOf returns the key id in an API key's principal id, and false for
// any other principal id.
func KeyIDOf(principalID string) (string, bool) {
	id, ok := strings.CutPrefix(principalID, KeyPrincipalPrefix)
	return id, ok && id != ""
}

// SplitPrincipalID splits a principal id into its kind and its parts: for
// a key, subject is the key id and issuer is empty. ok is false for an id
// of neither form.
func SplitPrincipalID(principalID string) (kind Kind, issuer, subject string, ok bool) {
	if id, isKey := KeyIDOf(principalID); isKey {
		return KindAPIKey, "", id, true
	}
	rest, isJWT := strings.CutPrefix(principalID, JWTPrincipalPrefix)
	if !isJWT {
		return "", "", "", false
	}
	issuer, subject, found := strings.Cut(rest, "#")
	if !found || subject == "" {
		return "", "", "", false
	}
	return KindJWT, issuer, subject, true
}

// SecretFingerprint names a stored secret hash without revealing it: the
// first 8 bytes of SHA-256 over the keyed hash, in hex. The authorizer puts
// the fingerprint of the secret that matched in the context
// (authz.CtxSecretFingerprint), so
// that the AI API can tell the current secret from one a rotation replaced
// while API Gateway still caches the old secret's Allow. It is not the
// secret nor the hash, and proves nothing by itself: it only selects.
func SecretFingerprint(hash []byte) string {
	if len(hash) == 0 {
		return ""
	}
	sum := sha256.Sum256(hash)
	return hex.EncodeToString(sum[:8])
}
