package authz

import (
	"encoding/json"
	"errors"
	"fmt"
)

// MaxModelPatternLength bounds one model pattern. Model ids in the wild
// (Bedrock ARNs and inference profiles, fine-tuned OpenAI ids) stay well
// below it.
const MaxModelPatternLength = 256

// CheckModelPattern reports whether p may name models: 1 to
// MaxModelPatternLength characters from A–Z a–z 0–9 - _ . : / @ + and the
// IAM wildcards * and ?. Everything else is refused, in particular ',' and
// whitespace, which other encodings of a model list use as separators, and
// '{' '}', which would read as a route placeholder in a scope: a name that
// could be split or read two ways never becomes part of a grant.
func CheckModelPattern(p string) error {
	if p == "" || len(p) > MaxModelPatternLength {
		return fmt.Errorf("authz: model pattern of %d bytes: want 1 to %d", len(p), MaxModelPatternLength)
	}
	for i := 0; i < len(p); i++ {
		if !modelChars[p[i]] {
			return fmt.Errorf("authz: model pattern %.64q has %q, which no model name holds (allowed: letters, digits, - _ . : / @ + * ?)", p, p[i])
		}
	}
	return nil
}

// modelChars marks the bytes CheckModelPattern accepts. Read-only after
// initialisation.
var modelChars = func() (t [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:/@+*?" {
		t[c] = true
	}
	return t
}()

// EncodeModels is the CtxModels value for a principal's model patterns: a
// JSON array of strings, carried as one string because API Gateway takes
// only scalars in an authorizer's context. Unlike a separator-joined list
// it cannot be split differently than it was built. The patterns must
// have passed CheckModelPattern.
func EncodeModels(models []string) string {
	if len(models) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(models) // []string always encodes
	return string(b)
}

// ParseModels reads a CtxModels value back. It is strict: anything but a
// JSON array of strings that each pass CheckModelPattern is an error, so
// that a context the reader cannot interpret one way only is refused, never
// guessed at.
func ParseModels(s string) ([]string, error) {
	b := []byte(s)
	if len(b) == 0 || b[0] != '[' {
		// Also refuses "null", which encoding/json would take as an
		// empty list, and the comma-separated form of older authorizers.
		return nil, errors.New("authz: models context is not a JSON array")
	}
	// Unmarshal refuses trailing data and non-string elements; a null
	// element decodes as "", which CheckModelPattern refuses.
	var models []string
	if err := json.Unmarshal(b, &models); err != nil {
		return nil, fmt.Errorf("authz: models context: %w", err)
	}
	for _, m := range models {
		if err := CheckModelPattern(m); err != nil {
			return nil, err
		}
	}
	return models, nil
}
