package record_test

import (
	"testing"

	"github.com/aigate/aigate/record"
)

func TestSplitPrincipalIDReadsBothKindsAndNothingElse(t *testing.T) {
	for _, tc := range []struct {
		id              string
		kind            record.Kind
		issuer, subject string
		ok              bool
	}{
		{"key:7ltwygwjurzt", record.KindAPIKey, "", "7ltwygwjurzt", true},
		{"jwt:https://idp.example#alice", record.KindJWT, "https://idp.example", "alice", true},
		{"jwt:https://idp.example#a#b", record.KindJWT, "https://idp.example", "a#b", true}, // the first '#' ends the issuer
		{"jwt:#legacy-subject", record.KindJWT, "", "legacy-subject", true},                 // migrated rows
		{"7ltwygwjurzt", "", "", "", false},
		{"key:", "", "", "", false},
		{"jwt:https://idp.example", "", "", "", false},
		{"jwt:https://idp.example#", "", "", "", false},
	} {
		kind, iss, sub, ok := record.SplitPrincipalID(tc.id)
		if kind != tc.kind || iss != tc.issuer || sub != tc.subject || ok != tc.ok {
			t.Errorf("SplitPrincipalID(%q) = %q, %q, %q, %v; want %q, %q, %q, %v", tc.id, kind, iss, sub, ok, tc.kind, tc.issuer, tc.subject, tc.ok)
		}
	}
}

func TestSecretFingerprintIsShortAndDistinct(t *testing.T) {
	a, b := record.SecretFingerprint([]byte("hash one")), record.SecretFingerprint([]byte("hash two"))
	if len(a) != 16 || a == b || record.SecretFingerprint(nil) != "" {
		t.Fatalf("fingerprints %q, %q", a, b)
	}
}
