package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Condition is a statement's Condition block as IAM writes it: condition
// operator → condition key → values, e.g.
// {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}}. A statement applies
// only when every operator holds for every key it names.
//
// JSON null is refused when decoding: API Gateway answers an authorizer
// policy with "Condition": null with 500 AuthorizerConfigurationException,
// and dropping the field instead would turn a conditional statement into an
// unconditional one.
type Condition map[string]map[string]ConditionValues

// UnmarshalJSON decodes an object of objects and refuses null.
func (c *Condition) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		return errors.New("policy: Condition is null")
	}
	var m map[string]map[string]ConditionValues
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("policy: decode Condition: %w", err)
	}
	*c = m
	return nil
}

// ConditionValues are the values a condition key is compared with. IAM
// accepts a string, a number, a boolean or an array of those; numbers and
// booleans are kept as JSON spells them ("5", "true"), since IAM compares
// text per operator type. It encodes as an array of strings.
type ConditionValues []string

// UnmarshalJSON accepts a scalar or an array of scalars. Null, objects and
// nested arrays are errors: a value IAM would not read must not be read as
// something else.
func (v *ConditionValues) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '[' {
		var raw []json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil {
			return fmt.Errorf("policy: decode condition values: %w", err)
		}
		out := make(ConditionValues, len(raw))
		for i, r := range raw {
			s, err := conditionScalar(r)
			if err != nil {
				return fmt.Errorf("policy: condition value %d: %w", i, err)
			}
			out[i] = s
		}
		*v = out
		return nil
	}
	s, err := conditionScalar(data)
	if err != nil {
		return fmt.Errorf("policy: condition value: %w", err)
	}
	*v = ConditionValues{s}
	return nil
}

// MarshalJSON encodes v as an array, [] when v is nil.
func (v ConditionValues) MarshalJSON() ([]byte, error) {
	if v == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]string(v))
}

func conditionScalar(data []byte) (string, error) {
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0:
		return "", errors.New("empty JSON value")
	case data[0] == '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return "", err
		}
		return s, nil
	case string(data) == "true" || string(data) == "false":
		return string(data), nil
	case data[0] == '-' || '0' <= data[0] && data[0] <= '9':
		var n json.Number
		if err := json.Unmarshal(data, &n); err != nil {
			return "", err
		}
		return n.String(), nil
	default:
		return "", errors.New("not a string, number or boolean")
	}
}

// ConditionKeys are the values of the global condition keys for one request,
// as API Gateway knows them when it evaluates an authorizer's policy. A key
// whose field is the zero value is absent from the request, except
// aws:SecureTransport, which is always present.
//
// Key names are matched case-insensitively, as IAM does. Keys not listed here
// are unknown: a Condition on them is not evaluated (see Document.Decide).
type ConditionKeys struct {
	// SourceIP is aws:SourceIp, the address of the client as the gateway
	// sees it.
	SourceIP netip.Addr
	// CurrentTime is aws:CurrentTime, and in whole seconds aws:EpochTime.
	CurrentTime time.Time
	// SecureTransport is aws:SecureTransport: whether the request came
	// over TLS.
	SecureTransport bool
	// UserAgent and Referer are aws:UserAgent and aws:Referer, the
	// client's headers.
	UserAgent, Referer string
	// SourceVpc and SourceVpce are aws:SourceVpc and aws:SourceVpce: the
	// VPC and VPC endpoint the request came through (absent for requests
	// that came from the internet).
	SourceVpc, SourceVpce string
}

// keyType is the type of a condition key, which decides the operators that
// apply to it.
type keyType uint8

const (
	keyString keyType = iota
	keyIP
	keyDate // also takes Numeric operators (aws:EpochTime)
	keyBool
)

// keyValue is one condition key's value in a request.
type keyValue struct {
	typ     keyType
	present bool
	numeric bool // Numeric operators apply (aws:EpochTime)
	s       string
	ip      netip.Addr
	t       time.Time
	b       bool
}

// lookup returns the value of the key named name, and false when the key is
// unknown.
func (k *ConditionKeys) lookup(name string) (keyValue, bool) {
	str := func(s string) keyValue { return keyValue{typ: keyString, present: s != "", s: s} }
	switch {
	case strings.EqualFold(name, "aws:SourceIp"):
		return keyValue{typ: keyIP, present: k.SourceIP.IsValid(), ip: k.SourceIP.Unmap()}, true
	case strings.EqualFold(name, "aws:CurrentTime"):
		return keyValue{typ: keyDate, present: !k.CurrentTime.IsZero(), t: k.CurrentTime}, true
	case strings.EqualFold(name, "aws:EpochTime"):
		return keyValue{typ: keyDate, numeric: true, present: !k.CurrentTime.IsZero(), t: k.CurrentTime.Truncate(time.Second)}, true
	case strings.EqualFold(name, "aws:SecureTransport"):
		return keyValue{typ: keyBool, present: true, b: k.SecureTransport}, true
	case strings.EqualFold(name, "aws:UserAgent"):
		return str(k.UserAgent), true
	case strings.EqualFold(name, "aws:Referer"):
		return str(k.Referer), true
	case strings.EqualFold(name, "aws:SourceVpc"):
		return str(k.SourceVpc), true
	case strings.EqualFold(name, "aws:SourceVpce"):
		return str(k.SourceVpce), true
	}
	return keyValue{}, false
}

// opKind is what an operator compares.
type opKind uint8

const (
	opString opKind = iota
	opStringIgnoreCase
	opStringLike
	opNumeric
	opDate
	opBool
	opIP
	opNull
)

// cmp is the comparison of Numeric and Date operators.
type cmp uint8

const (
	cmpEq cmp = iota
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

type operator struct {
	kind    opKind
	cmp     cmp
	negated bool // true when no value may match (…Not…)
}

// operators are the condition operators evaluated, by IAM's case-sensitive
// names. Each may also take the IfExists suffix, except Null.
var operators = map[string]operator{
	"StringEquals":              {kind: opString},
	"StringNotEquals":           {kind: opString, negated: true},
	"StringEqualsIgnoreCase":    {kind: opStringIgnoreCase},
	"StringNotEqualsIgnoreCase": {kind: opStringIgnoreCase, negated: true},
	"StringLike":                {kind: opStringLike},
	"StringNotLike":             {kind: opStringLike, negated: true},
	"NumericEquals":             {kind: opNumeric, cmp: cmpEq},
	"NumericNotEquals":          {kind: opNumeric, cmp: cmpEq, negated: true},
	"NumericLessThan":           {kind: opNumeric, cmp: cmpLt},
	"NumericLessThanEquals":     {kind: opNumeric, cmp: cmpLe},
	"NumericGreaterThan":        {kind: opNumeric, cmp: cmpGt},
	"NumericGreaterThanEquals":  {kind: opNumeric, cmp: cmpGe},
	"DateEquals":                {kind: opDate, cmp: cmpEq},
	"DateNotEquals":             {kind: opDate, cmp: cmpEq, negated: true},
	"DateLessThan":              {kind: opDate, cmp: cmpLt},
	"DateLessThanEquals":        {kind: opDate, cmp: cmpLe},
	"DateGreaterThan":           {kind: opDate, cmp: cmpGt},
	"DateGreaterThanEquals":     {kind: opDate, cmp: cmpGe},
	"Bool":                      {kind: opBool},
	"IpAddress":                 {kind: opIP},
	"NotIpAddress":              {kind: opIP, negated: true},
	"Null":                      {kind: opNull},
}

// applies reports whether an operator of kind k may test a key of value kv.
func (k opKind) applies(kv keyValue) bool {
	switch k {
	case opString, opStringIgnoreCase, opStringLike:
		return kv.typ == keyString
	case opNumeric:
		return kv.numeric
	case opDate:
		return kv.typ == keyDate
	case opBool:
		return kv.typ == keyBool
	case opIP:
		return kv.typ == keyIP
	}
	return true // Null tests presence of any key
}

// conditionState is the three-valued outcome of a Condition.
type conditionState uint8

const (
	conditionTrue conditionState = iota
	conditionFalse
	// conditionUnknown: some part could not be evaluated (an operator or
	// key not listed above, a set operator, a policy variable, a value
	// of the wrong type…). The caller decides fail-closed.
	conditionUnknown
)

// evaluate evaluates c for keys (nil: no key known). When the result is
// conditionUnknown, reason says why, naming the first unevaluable operator
// and key in sorted order (never a value). Any unevaluable part makes the
// whole Condition unknown, even when another part is false: if IAM refused
// the part instead, a Deny would not be skipped on our say-so.
func (c Condition) evaluate(keys *ConditionKeys) (conditionState, string) {
	if c == nil {
		return conditionTrue, ""
	}
	if len(c) == 0 {
		return conditionUnknown, "empty Condition"
	}
	state := conditionTrue
	reason, reasonOp, reasonKey := "", "", ""
	for opName, block := range c {
		if len(block) == 0 {
			if state != conditionUnknown || opName < reasonOp {
				state, reason, reasonOp, reasonKey = conditionUnknown, fmt.Sprintf("operator %s has no keys", opName), opName, ""
			}
			continue
		}
		for key, values := range block {
			s, why := evaluateKey(opName, key, values, keys)
			switch {
			case s == conditionUnknown:
				if state != conditionUnknown || opName < reasonOp || opName == reasonOp && key < reasonKey {
					reason, reasonOp, reasonKey = why, opName, key
				}
				state = conditionUnknown
			case s == conditionFalse && state == conditionTrue:
				state = conditionFalse
			}
		}
	}
	return state, reason
}

// evaluateKey evaluates one operator on one key.
func evaluateKey(opName, key string, values ConditionValues, keys *ConditionKeys) (conditionState, string) {
	if strings.Contains(opName, ":") {
		// ForAllValues:… and ForAnyValue:… are for multivalued keys,
		// which none of the evaluated keys is.
		return conditionUnknown, fmt.Sprintf("set operator %s is not evaluated", opName)
	}
	base, ifExists := strings.CutSuffix(opName, "IfExists")
	op, ok := operators[base]
	if !ok || ifExists && op.kind == opNull {
		return conditionUnknown, fmt.Sprintf("condition operator %s is not evaluated", opName)
	}
	if keys == nil {
		return conditionUnknown, "no condition keys are known to this evaluation"
	}
	kv, known := keys.lookup(key)
	if !known {
		return conditionUnknown, fmt.Sprintf("condition key %s is not evaluated", key)
	}
	if !op.kind.applies(kv) {
		return conditionUnknown, fmt.Sprintf("operator %s does not apply to key %s", opName, key)
	}
	if len(values) == 0 {
		return conditionUnknown, fmt.Sprintf("%s on %s has no values", opName, key)
	}
	// Every value is checked, so that a malformed one is reported whatever
	// the others say.
	matched := false
	for _, want := range values {
		m, ok := op.match(kv, want)
		if !ok {
			return conditionUnknown, fmt.Sprintf("a value of %s on %s cannot be read as that operator's type", opName, key)
		}
		matched = matched || m
	}
	if op.kind == opNull {
		return stateOf(matched), ""
	}
	if !kv.present {
		// IAM: a missing key fails a positive operator and satisfies a
		// negated one; …IfExists is satisfied either way.
		return stateOf(ifExists || op.negated), ""
	}
	return stateOf(matched != op.negated), ""
}

func stateOf(b bool) conditionState {
	if b {
		return conditionTrue
	}
	return conditionFalse
}

// match compares the key's value with one policy value; ok is false when the
// policy value cannot be read as the operator's type. It is called for an
// absent key too, to check the value.
func (op operator) match(kv keyValue, want string) (matched, ok bool) {
	switch op.kind {
	case opString, opStringIgnoreCase, opStringLike:
		if strings.Contains(want, "${") {
			// A policy variable: IAM would substitute it; this evaluator
			// does not.
			return false, false
		}
		switch op.kind {
		case opString:
			return kv.s == want, true
		case opStringIgnoreCase:
			return strings.EqualFold(kv.s, want), true
		default:
			return Match(want, kv.s), true
		}
	case opNumeric:
		n, err := strconv.ParseFloat(want, 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return false, false
		}
		return compare(float64(kv.t.Unix()), n, op.cmp), true
	case opDate:
		w, ok := parseConditionDate(want)
		if !ok {
			return false, false
		}
		return compare(float64(kv.t.Sub(w)), 0, op.cmp), true
	case opBool:
		switch want {
		case "true":
			return kv.b, true
		case "false":
			return !kv.b, true
		}
		return false, false
	case opIP:
		p, err := netip.ParsePrefix(want)
		if err != nil {
			a, err := netip.ParseAddr(want)
			if err != nil || a.Zone() != "" {
				return false, false
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		return kv.present && p.Contains(kv.ip), true
	case opNull:
		switch want {
		case "true":
			return !kv.present, true
		case "false":
			return kv.present, true
		}
		return false, false
	}
	return false, false
}

func compare(have, want float64, c cmp) bool {
	switch c {
	case cmpLt:
		return have < want
	case cmpLe:
		return have <= want
	case cmpGt:
		return have > want
	case cmpGe:
		return have >= want
	}
	return have == want
}

// dateLayouts are the W3C profiles of ISO 8601 that IAM documents for Date
// operators, down to the day. (A bare year or year-month is refused: "2030"
// would read as an epoch time as well.)
var dateLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02"}

// parseConditionDate reads a Date operator's value: one of dateLayouts, or
// epoch seconds (at least five digits, so that no year passes for one).
func parseConditionDate(s string) (time.Time, bool) {
	digits := strings.TrimPrefix(s, "-")
	if len(digits) > 0 && strings.Trim(digits, "0123456789") == "" {
		if len(digits) < 5 {
			return time.Time{}, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		return time.Unix(n, 0), true
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
