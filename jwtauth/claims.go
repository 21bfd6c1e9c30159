package jwtauth

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/record"
)

// claimSet is a token's payload, each claim left as raw JSON until a check
// or the mapping needs it.
type claimSet map[string]json.RawMessage

// decodeClaims splits a JSON object into its members. It gives the same
// result as json.Unmarshal into a map[string]json.RawMessage (last
// duplicate wins, escaped names unescaped), which FuzzDecodeClaims checks,
// at half the cost: encoding/json validates the document, and the
// split then only has to find the members of a document known to be valid.
func decodeClaims(payload []byte) (claimSet, error) {
	if !json.Valid(payload) {
		return nil, errMalformed
	}
	c, ok := splitObject(payload)
	if !ok {
		return nil, errMalformed
	}
	return c, nil
}

// splitObject splits a valid JSON document that is an object. Values are
// subslices of doc; ok is false for any other valid document.
func splitObject(doc []byte) (c claimSet, ok bool) {
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return nil, false
	}
	c = make(claimSet, 16)
	i = skipSpace(doc, i+1)
	if i < len(doc) && doc[i] == '}' {
		return c, true
	}
	keys := string(doc) // one allocation for every name
	for i < len(doc) && doc[i] == '"' {
		end := stringEnd(doc, i)
		if end < 0 {
			return nil, false
		}
		name := keys[i+1 : end-1]
		if needsUnquote(doc[i:end]) {
			if json.Unmarshal(doc[i:end], &name) != nil {
				return nil, false
			}
		}
		i = skipSpace(doc, end)
		if i >= len(doc) || doc[i] != ':' {
			return nil, false
		}
		i = skipSpace(doc, i+1)
		vend := valueEnd(doc, i)
		if vend < 0 {
			return nil, false
		}
		c[name] = json.RawMessage(doc[i:vend:vend])
		i = skipSpace(doc, vend)
		if i >= len(doc) {
			return nil, false
		}
		switch doc[i] {
		case ',':
			i = skipSpace(doc, i+1)
		case '}':
			return c, true
		default:
			return nil, false
		}
	}
	return nil, false
}

func skipSpace(doc []byte, i int) int {
	for i < len(doc) && (doc[i] == ' ' || doc[i] == '\t' || doc[i] == '\n' || doc[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the string starting at doc[i] ('"').
func stringEnd(doc []byte, i int) int {
	for j := i + 1; j < len(doc); j++ {
		switch doc[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// valueEnd returns the index after the value starting at doc[i].
func valueEnd(doc []byte, i int) int {
	if i >= len(doc) {
		return -1
	}
	switch doc[i] {
	case '"':
		return stringEnd(doc, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(doc); j++ {
			switch doc[j] {
			case '"':
				end := stringEnd(doc, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default: // number, true, false, null
		j := i
		for j < len(doc) && !strings.ContainsRune(",}] \t\n\r", rune(doc[j])) {
			j++
		}
		return j
	}
}

// needsUnquote reports whether a JSON string literal differs from its
// bytes between the quotes: escapes, or bytes encoding/json would replace.
func needsUnquote(lit []byte) bool {
	for _, b := range lit[1 : len(lit)-1] {
		if b == '\\' || b < 0x20 || b >= 0x80 {
			return true
		}
	}
	return false
}

// lookup finds a claim by its exact name, else, for a dotted name, by
// walking nested objects: "realm_access.roles" is c["realm_access"]["roles"].
// Exact names come first because namespaced claims contain dots
// ("https://aigate.example/plan").
func (c claimSet) lookup(name string) (json.RawMessage, bool) {
	if v, ok := c[name]; ok {
		return v, !isNull(v)
	}
	for i := 0; i < len(name); i++ {
		if name[i] != '.' {
			continue
		}
		v, ok := c[name[:i]]
		if !ok || len(v) == 0 || v[0] != '{' {
			continue
		}
		inner, ok := splitObject(v)
		if !ok {
			continue
		}
		if v, ok := inner.lookup(name[i+1:]); ok {
			return v, true
		}
	}
	return nil, false
}

func isNull(v json.RawMessage) bool { return bytes.Equal(v, []byte("null")) }

// str returns a string claim; ok is false when it is absent. A present claim
// of another type is an error: a mapping that silently fell back would grant
// something the issuer did not say.
func (c claimSet) str(name string) (s string, ok bool, err error) {
	raw, ok := c.lookup(name)
	if !ok {
		return "", false, nil
	}
	s, isStr := stringValue(raw)
	if !isStr {
		return "", false, invalidf("claim %q is not a string", truncate(name))
	}
	return s, true, nil
}

// stringValue decodes a JSON string value; plain ones without encoding/json.
func stringValue(raw json.RawMessage) (s string, ok bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	if !needsUnquote(raw) {
		return string(raw[1 : len(raw)-1]), true
	}
	return s, json.Unmarshal(raw, &s) == nil
}

// list returns a claim that is either an array of strings or a string of
// items separated by any of seps. Items are trimmed; empty ones dropped.
func (c claimSet) list(name, seps string) ([]string, error) {
	raw, ok := c.lookup(name)
	if !ok {
		return nil, nil
	}
	var items []string
	switch {
	case len(raw) > 0 && raw[0] == '"':
		s, ok := stringValue(raw)
		if !ok {
			return nil, invalidf("claim %q is malformed", truncate(name))
		}
		items = strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(seps, r) })
	default:
		if items, ok = stringArray(raw); !ok {
			return nil, invalidf("claim %q is not a string or an array of strings", truncate(name))
		}
	}
	out := items[:0]
	for _, it := range items {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out, nil
}

// stringArray decodes a JSON array of strings (raw is valid JSON); ok is
// false for anything else, including an array holding a non-string.
func stringArray(raw json.RawMessage) (items []string, ok bool) {
	if len(raw) < 2 || raw[0] != '[' {
		return nil, false
	}
	i := skipSpace(raw, 1)
	if i < len(raw) && raw[i] == ']' {
		return []string{}, true
	}
	for i < len(raw) {
		end := valueEnd(raw, i)
		if end < 0 {
			return nil, false
		}
		s, ok := stringValue(raw[i:end])
		if !ok {
			return nil, false
		}
		items = append(items, s)
		i = skipSpace(raw, end)
		if i >= len(raw) {
			return nil, false
		}
		switch raw[i] {
		case ',':
			i = skipSpace(raw, i+1)
		case ']':
			return items, true
		default:
			return nil, false
		}
	}
	return nil, false
}

// numericDate reads an RFC 7519 NumericDate claim; ok is false when absent.
func (c claimSet) numericDate(name string) (t time.Time, ok bool, err error) {
	raw, ok := c[name]
	if !ok || isNull(raw) {
		return time.Time{}, false, nil
	}
	// A JSON number (the document is valid, so raw is one if it starts
	// like one) is a subset of what ParseFloat reads. Year 9999: anything
	// later is garbage, and would overflow time.Time.
	isNum := raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')
	f, err := strconv.ParseFloat(string(raw), 64)
	if !isNum || err != nil || math.IsNaN(f) || f < 0 || f > 253402300799 {
		return time.Time{}, false, invalidf("claim %q is not a NumericDate", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

// claimMapper turns verified claims into a principal, per ClaimMapping.
type claimMapper struct {
	m           ClaimMapping // defaults filled in
	plans       map[string]record.Limits
	defaultPlan string
}

func newClaimMapper(m ClaimMapping, plans map[string]record.Limits, defaultPlan string) *claimMapper {
	if m.PrincipalID == "" {
		m.PrincipalID = "sub"
	}
	if m.Name == "" {
		m.Name = "name"
	}
	if m.ScopeClaim == "" {
		m.ScopeClaim = "scope"
	}
	if m.ModelScopePrefix == "" {
		m.ModelScopePrefix = DefaultModelScopePrefix
	}
	m.DefaultModels = slices.Clone(m.DefaultModels)
	m.GroupPlans = slices.Clone(m.GroupPlans)
	return &claimMapper{m: m, plans: plans, defaultPlan: defaultPlan}
}

// principal maps the claims of a token from issuer. The principal's id
// names the issuer as well as the subject (record.JWTPrincipalID): the same
// subject from two issuers, or a subject equal to an API key's id, is
// another principal, with limits and usage of its own.
func (cm *claimMapper) principal(issuer string, c claimSet, exp time.Time) (*record.Principal, error) {
	m := &cm.m
	id, ok, err := c.str(m.PrincipalID)
	if err != nil {
		return nil, err
	}
	if !ok || id == "" {
		return nil, invalidf("token has no principal id claim %q", truncate(m.PrincipalID))
	}
	p := &record.Principal{ID: record.JWTPrincipalID(issuer, id), Kind: record.KindJWT, ExpiresAt: exp}
	if p.Name, _, err = c.str(m.Name); err != nil {
		return nil, err
	}
	if m.Tenant != "" {
		if p.Tenant, _, err = c.str(m.Tenant); err != nil {
			return nil, err
		}
	}
	if p.Models, err = cm.models(c); err != nil {
		return nil, err
	}
	if p.Limits, err = cm.limits(c); err != nil {
		return nil, err
	}
	return p, nil
}

func (cm *claimMapper) models(c claimSet) ([]string, error) {
	m := &cm.m
	var models []string
	if m.Models != "" {
		v, err := c.list(m.Models, ",")
		if err != nil {
			return nil, err
		}
		if err := checkModels(m.Models, v); err != nil {
			return nil, err
		}
		models = v
	}
	scopes, err := c.list(m.ScopeClaim, " ")
	if err != nil {
		return nil, err
	}
	var fromScopes []string
	for _, s := range scopes {
		if pat, ok := strings.CutPrefix(s, m.ModelScopePrefix); ok && pat != "" {
			fromScopes = append(fromScopes, pat)
		}
	}
	if err := checkModels(m.ScopeClaim, fromScopes); err != nil {
		return nil, err
	}
	models = append(models, fromScopes...)
	if len(models) == 0 {
		return append([]string(nil), m.DefaultModels...), nil
	}
	return dedupe(models), nil
}

// checkModels refuses the token when claim grants a name that no model
// has: an array element "echo,gpt-x" would otherwise read as two models, or
// as none, somewhere downstream (authz.CheckModelPattern says which
// characters a model pattern may hold).
func checkModels(claim string, models []string) error {
	for _, p := range models {
		if authz.CheckModelPattern(p) != nil {
			return invalidf("claim %q holds %.40q, which is not a model pattern", truncate(claim), p)
		}
	}
	return nil
}

// limits picks the plan: the plan claim if it names a defined plan, else
// the first group rule the principal matches, else the default plan.
func (cm *claimMapper) limits(c claimSet) (record.Limits, error) {
	m := &cm.m
	if m.Plan != "" {
		name, _, err := c.str(m.Plan)
		if err != nil {
			return record.Limits{}, err
		}
		if l, ok := cm.plans[name]; ok && name != "" {
			return l, nil
		}
	}
	if m.Groups != "" && len(m.GroupPlans) > 0 {
		groups, err := c.list(m.Groups, " ,")
		if err != nil {
			return record.Limits{}, err
		}
		for _, rule := range m.GroupPlans {
			for _, g := range groups {
				if g == rule.Group {
					return cm.plans[rule.Plan], nil
				}
			}
		}
	}
	return cm.plans[cm.defaultPlan], nil
}

func dedupe(s []string) []string {
	out := s[:0]
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
