package stack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// This file checks the stack's pricing setting (the AI API's
// AIGATE_PRICING) at `pulumi up`, so that a price the Lambda would refuse
// stops the deployment instead of every cold start. This module does not
// import the aigate module (README: it keeps the Pulumi SDK and the
// Lambdas' dependencies apart), so the rules of the aigate pricing
// package's ParseJSON (pricing/table.go) and ParseUSD (pricing/money.go)
// are repeated here; a change there must be repeated here too.

// pricingEntry is one entry of AIGATE_PRICING, with the fields
// pricing.ParseJSON knows (others are refused, as it refuses them).
type pricingEntry struct {
	Model       string          `json:"model"`
	Input       json.RawMessage `json:"input"`
	Output      json.RawMessage `json:"output"`
	CachedInput json.RawMessage `json:"cachedInput"`
	CacheWrite  json.RawMessage `json:"cacheWrite"`
	Effective   string          `json:"effective"`
}

// maxModelPatternLength and modelPatternChars are authz.CheckModelPattern's.
const (
	maxModelPatternLength = 256
	modelPatternChars     = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:/@+*?"
)

// compactPricing reads the pricing setting: a JSON list (a YAML list in the
// stack file reaches the program as JSON), compacted so that it takes
// little of Lambda's 4 KB environment. Numbers keep their text, so 0.1 is
// passed on as written, never through a float.
func compactPricing(raw string) (string, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(strings.TrimSpace(raw))); err != nil {
		return "", fmt.Errorf("not JSON: %w", err)
	}
	return b.String(), nil
}

// checkPricing applies pricing.ParseJSON's rules to an AIGATE_PRICING
// value, naming the first bad entry and field as it does
// ("pricing[2].cachedInput: …").
func checkPricing(raw string) error {
	var entries []pricingEntry
	if err := strictJSON(raw, &entries); err != nil {
		return fmt.Errorf("stack: pricing: want a list of {model, input, output, cachedInput, cacheWrite, effective}: %w", err)
	}
	for i, e := range entries {
		at := fmt.Sprintf("pricing[%d]", i)
		if err := checkModelPattern(e.Model); err != nil {
			return fmt.Errorf("stack: pricing: %s.model: %w", at, err)
		}
		for _, f := range []struct {
			name     string
			v        json.RawMessage
			required bool
		}{
			{"input", e.Input, true},
			{"output", e.Output, true},
			{"cachedInput", e.CachedInput, false},
			{"cacheWrite", e.CacheWrite, false},
		} {
			if err := checkPriceAmount(f.v, f.required); err != nil {
				return fmt.Errorf("stack: pricing: %s.%s: %w", at, f.name, err)
			}
		}
		if e.Effective != "" {
			s := strings.TrimSpace(e.Effective)
			if _, err := time.Parse("2006-01-02", s); err != nil {
				if _, err := time.Parse(time.RFC3339, s); err != nil {
					return fmt.Errorf("stack: pricing: %s.effective: %q is not a date (2006-01-02) or RFC 3339 time", at, e.Effective)
				}
			}
		}
	}
	return nil
}

func checkModelPattern(p string) error {
	if p == "" || len(p) > maxModelPatternLength {
		return fmt.Errorf("model pattern of %d bytes: want 1 to %d", len(p), maxModelPatternLength)
	}
	for i := 0; i < len(p); i++ {
		if !strings.Contains(modelPatternChars, string(p[i])) {
			return fmt.Errorf("model pattern %.64q has %q (allowed: letters, digits, - _ . : / @ + * ?)", p, p[i])
		}
	}
	return nil
}

// checkPriceAmount checks a price as pricing's amount reads it: a JSON
// number or a string holding one; absent (or null) only if not required.
func checkPriceAmount(v json.RawMessage, required bool) error {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		if required {
			return errors.New("required (USD per 1M tokens)")
		}
		return nil
	}
	text := string(v)
	switch v[0] {
	case '[', '{':
		return errors.New("must be a number of dollars per 1M tokens")
	case '"':
		if err := json.Unmarshal(v, &text); err != nil {
			return err
		}
	}
	return checkUSD(text)
}

// checkUSD is pricing.ParseUSD without its result: a non-negative decimal
// amount of dollars, exact to the micro-dollar, within int64 micro-dollars.
func checkUSD(s string) error {
	s = strings.TrimPrefix(strings.TrimSpace(s), "$")
	if s == "" {
		return errors.New("empty amount")
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || !isDigits(whole) || !isDigits(frac) {
		return fmt.Errorf("amount %q is not a plain decimal number of dollars", s)
	}
	if len(frac) > 6 {
		if strings.TrimRight(frac[6:], "0") != "" {
			return fmt.Errorf("amount %q is finer than a micro-dollar (6 decimals)", s)
		}
		frac = frac[:6]
	}
	frac += strings.Repeat("0", 6-len(frac))
	if n, ok := new(big.Int).SetString(whole+frac, 10); !ok || !n.IsInt64() {
		return fmt.Errorf("amount %q is too large", s)
	}
	return nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
