package authz_test

import (
	"testing"

	"github.com/aigate/aigate/authz"
)

func TestSplitPrincipalIDReadsBothKindsAndNothingElse(t *testing.T) {
	for _, tc := range []struct {
		id              string
		kind            authz.Kind
		issuer, subject string
		ok              bool
	}{
		{"key:7ltwygwjurzt", authz.KindAPIKey, "", "7ltwygwjurzt", true},
		{"jwt:https://idp.example#alice", authz.KindJWT, "https://idp.example", "alice", true},
		{"jwt:https://idp.example#a#b", authz.KindJWT, "https://idp.example", "a#b", true}, // the first '#' ends the issuer
		{"jwt:#legacy-subject", authz.KindJWT, "", "legacy-subject", true},                 // migrated rows
		{"7ltwygwjurzt", "", "", "", false},
		{"key:", "", "", "", false},
		{"jwt:https://idp.example", "", "", "", false},
		{"jwt:https://idp.example#", "", "", "", false},
	} {
		kind, iss, sub, ok := authz.SplitPrincipalID(tc.id)
		if kind != tc.kind || iss != tc.issuer || sub != tc.subject || ok != tc.ok {
			t.Errorf("SplitPrincipalID(%q) = %q, %q, %q, %v; want %q, %q, %q, %v", tc.id, kind, iss, sub, ok, tc.kind, tc.issuer, tc.subject, tc.ok)
		}
	}
}

func TestSecretFingerprintIsShortAndDistinct(t *testing.T) {
	a, b := authz.SecretFingerprint([]byte("hash one")), authz.SecretFingerprint([]byte("hash two"))
	if len(a) != 16 || a == b || authz.SecretFingerprint(nil) != "" {
		t.Fatalf("fingerprints %q, %q", a, b)
	}
}
