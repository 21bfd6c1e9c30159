package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

const (
	// Version is the policy language version that every document this
	// package builds carries.
	Version = "2012-10-17"
	// version2008 is IAM's older policy language version. IAM still accepts
	// it, so Validate does too.
	version2008 = "2008-10-17"

	// ActionInvoke is the only action API Gateway asks about when it
	// evaluates an authorizer's policy.
	ActionInvoke = "execute-api:Invoke"

	// EffectAllow and EffectDeny are the only Effect values IAM accepts.
	// IAM compares them case-sensitively: "allow" is not "Allow".
	EffectAllow = "Allow"
	EffectDeny  = "Deny"

	// MaxMethodARNLength is the longest method ARN, in bytes, that API
	// Gateway accepts; a longer one is answered with 414.
	MaxMethodARNLength = 1600
	// MaxResourceLength is the longest Resource, in characters, that API
	// Gateway accepts in an authorizer's policy.
	MaxResourceLength = 512
)

// ErrInvalidDocument is wrapped by every error Validate returns: API Gateway
// answers such a policy with 500 AuthorizerConfigurationException.
var ErrInvalidDocument = errors.New("policy: invalid policy document")

// StringOrSlice is the type of a statement's Action and Resource. AWS accepts
// a single string or an array of strings there; aws-lambda-go's
// events.IAMPolicyStatement decodes only arrays, so a reader of policies needs
// this. It always encodes as an array, and never as null.
type StringOrSlice []string

// UnmarshalJSON accepts a string, an array of strings or null (which leaves
// nil). Anything else, including null inside an array, is an error: letting
// it through as "" would let a broken policy look like an empty one.
func (s *StringOrSlice) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return errors.New("policy: empty JSON value for string or array")
	}
	switch data[0] {
	case 'n':
		if string(data) != "null" {
			return errors.New("policy: expected a string or an array of strings")
		}
		*s = nil
		return nil
	case '"':
		var one string
		if err := json.Unmarshal(data, &one); err != nil {
			return fmt.Errorf("policy: decode string: %w", err)
		}
		*s = StringOrSlice{one}
		return nil
	case '[':
		var raw []json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil {
			return fmt.Errorf("policy: decode array: %w", err)
		}
		out := make(StringOrSlice, len(raw))
		for i, r := range raw {
			if len(r) == 0 || r[0] != '"' {
				return fmt.Errorf("policy: array element %d is not a string", i)
			}
			if err := json.Unmarshal(r, &out[i]); err != nil {
				return fmt.Errorf("policy: decode array element %d: %w", i, err)
			}
		}
		*s = out
		return nil
	default:
		return errors.New("policy: expected a string or an array of strings")
	}
}

// MarshalJSON encodes s as an array, [] when s is nil: API Gateway rejects
// null where it expects an Action or Resource.
func (s StringOrSlice) MarshalJSON() ([]byte, error) {
	if s == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]string(s))
}

// Statement is one statement of a policy document. It has Action or
// NotAction, Resource or NotResource, and may have a Condition. Fields that
// are not set are left out when encoding (a nil list is absent, an empty one
// is []), so that a document round-trips unchanged.
type Statement struct {
	Sid         string        `json:"Sid,omitempty"`
	Action      StringOrSlice `json:"Action,omitzero"`
	NotAction   StringOrSlice `json:"NotAction,omitzero"`
	Effect      string        `json:"Effect"`
	Resource    StringOrSlice `json:"Resource,omitzero"`
	NotResource StringOrSlice `json:"NotResource,omitzero"`
	Condition   Condition     `json:"Condition,omitzero"`
}

// Document is an IAM policy document as an authorizer returns it.
//
// Decoding uses encoding/json, which matches keys case-insensitively
// ("effect" fills Effect); AWS may be stricter there. Documents built with
// NewDocument always use the exact keys.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Validate reports what API Gateway would refuse with a 500: a Version other
// than "2012-10-17" or "2008-10-17" (missing included: we choose to be
// strict, since every document we build carries Version), no statements (a
// nil Statement encodes as null), an Effect other than exactly "Allow" or
// "Deny", a statement without exactly one of Action and NotAction or without
// exactly one of Resource and NotResource, an empty Action, NotAction or
// NotResource list, an empty string in any of them, and a Resource longer
// than MaxResourceLength characters.
//
// "Resource": [] is valid: it matches nothing. AWS answers a policy whose
// only Allow has it (Chalice's way to deny) with the implicit-deny 403, not
// a 500. An empty NotResource or NotAction would match everything; AWS's
// answer is not recorded, so it is refused, which never grants.
//
// "Condition": null is refused when decoding (see Condition).
//
// The errors wrap ErrInvalidDocument and name the statement by index, never
// by content.
func (d Document) Validate() error {
	if d.Version != Version && d.Version != version2008 {
		return fmt.Errorf("%w: Version must be %q", ErrInvalidDocument, Version)
	}
	if len(d.Statement) == 0 {
		return fmt.Errorf("%w: no Statement", ErrInvalidDocument)
	}
	for i, st := range d.Statement {
		if err := st.validate(); err != nil {
			return fmt.Errorf("%w: statement %d: %w", ErrInvalidDocument, i, err)
		}
	}
	return nil
}

func (st *Statement) validate() error {
	if st.Effect != EffectAllow && st.Effect != EffectDeny {
		return fmt.Errorf("Effect must be %q or %q", EffectAllow, EffectDeny)
	}
	if err := validatePair(st.Action, "Action", st.NotAction, "NotAction", false); err != nil {
		return err
	}
	if err := validatePair(st.Resource, "Resource", st.NotResource, "NotResource", true); err != nil {
		return err
	}
	for _, list := range []StringOrSlice{st.Resource, st.NotResource} {
		for j, r := range list {
			if utf8.RuneCountInString(r) > MaxResourceLength {
				return fmt.Errorf("resource %d is longer than %d characters", j, MaxResourceLength)
			}
		}
	}
	return nil
}

// validatePair checks that exactly one of list and notList is present, that
// neither holds an empty string, and that notList is not empty (list only
// when mayBeEmpty).
func validatePair(list StringOrSlice, name string, notList StringOrSlice, notName string, mayBeEmpty bool) error {
	switch {
	case list != nil && notList != nil:
		return fmt.Errorf("both %s and %s", name, notName)
	case list != nil:
		if len(list) == 0 && !mayBeEmpty {
			return fmt.Errorf("empty %s", name)
		}
		return noEmptyString(list, name)
	case notList != nil:
		if len(notList) == 0 {
			return fmt.Errorf("empty %s", notName)
		}
		return noEmptyString(notList, notName)
	}
	return fmt.Errorf("no %s or %s", name, notName)
}

func noEmptyString(list StringOrSlice, name string) error {
	for j, v := range list {
		if v == "" {
			return fmt.Errorf("%s %d is empty", name, j)
		}
	}
	return nil
}

// Result is the outcome of evaluating a policy for one method ARN.
type Result int

const (
	// ImplicitDeny: no statement allows the call. API Gateway answers 403
	// "User is not authorized to access this resource".
	ImplicitDeny Result = iota
	// Allow: a statement allows the call and none denies it.
	Allow
	// ExplicitDeny: a Deny statement matches. API Gateway answers 403
	// "User is not authorized to access this resource with an explicit
	// deny".
	ExplicitDeny
)

func (r Result) String() string {
	switch r {
	case ImplicitDeny:
		return "ImplicitDeny"
	case Allow:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	default:
		return fmt.Sprintf("Result(%d)", int(r))
	}
}

// Evaluate decides whether the document allows execute-api:Invoke on
// methodARN without knowing any condition key: Decide(methodARN, nil).Result.
// A statement with a Condition is therefore decided fail-closed. Evaluate
// does not allocate for documents without conditions.
func (d Document) Evaluate(methodARN string) Result {
	return d.Decide(methodARN, nil).Result
}

// Decision is the outcome of Decide.
type Decision struct {
	Result Result
	// Unevaluated are the statements that applied to the call but whose
	// Condition could not be evaluated, and were decided fail-closed: an
	// Allow as not matching, a Deny as matching. The caller logs them.
	Unevaluated []Unevaluated
}

// Unevaluated names a statement decided fail-closed, and why. It never
// carries a condition's values.
type Unevaluated struct {
	Statement int    // index in Statement
	Sid       string // the statement's Sid, if any
	Effect    string
	Reason    string
}

// Decide decides whether the document allows execute-api:Invoke on
// methodARN, with IAM's rules: a matching Deny wins over any Allow, and
// without a matching Allow the call is implicitly denied.
//
// A statement matches when its Action matches "execute-api:Invoke"
// (case-insensitively, with wildcards: "execute-api:*" and "*" match) or its
// NotAction does not, when its Resource matches methodARN (case-sensitively,
// with wildcards) or its NotResource does not, and when its Condition holds
// for keys (see the package documentation for the conditions evaluated).
// A Condition that cannot be evaluated, or any Condition when keys is nil,
// never grants: the statement is decided fail-closed and listed in
// Unevaluated.
//
// Decide does not validate: a statement whose Effect is neither "Allow" nor
// "Deny", or that has neither Action nor NotAction, or neither Resource nor
// NotResource, never matches. Call Validate first where the document comes
// from outside (the local gateway reading a Lambda's answer). Decide
// allocates only to report unevaluated statements.
func (d Document) Decide(methodARN string, keys *ConditionKeys) Decision {
	var dec Decision
	allowed := false
	for i := range d.Statement {
		st := &d.Statement[i]
		var deny bool
		switch st.Effect {
		case EffectDeny:
			deny = true
		case EffectAllow:
			if allowed {
				// Only a Deny can change the outcome now.
				continue
			}
		default:
			continue
		}
		if !st.appliesTo(methodARN) {
			continue
		}
		state, reason := st.Condition.evaluate(keys)
		if state == conditionUnknown {
			dec.Unevaluated = append(dec.Unevaluated, Unevaluated{Statement: i, Sid: st.Sid, Effect: st.Effect, Reason: reason})
		}
		switch {
		case deny && state != conditionFalse:
			dec.Result = ExplicitDeny
			return dec
		case !deny && state == conditionTrue:
			allowed = true
		}
	}
	if allowed {
		dec.Result = Allow
	} else {
		dec.Result = ImplicitDeny
	}
	return dec
}

// appliesTo reports whether the statement's action and resource elements
// cover execute-api:Invoke on methodARN.
func (st *Statement) appliesTo(methodARN string) bool {
	switch {
	case st.Action != nil:
		if !anyMatch(st.Action, ActionInvoke, true) {
			return false
		}
	case st.NotAction != nil:
		if anyMatch(st.NotAction, ActionInvoke, true) {
			return false
		}
	default:
		return false
	}
	switch {
	case st.Resource != nil:
		return anyMatch(st.Resource, methodARN, false)
	case st.NotResource != nil:
		return !anyMatch(st.NotResource, methodARN, false)
	}
	return false
}

func anyMatch(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if match(p, s, fold) {
			return true
		}
	}
	return false
}

// Builder builds a Document for execute-api:Invoke. Each Allow or Deny call
// adds one statement.
type Builder struct {
	statements []Statement
}

// NewDocument starts an empty policy document.
func NewDocument() *Builder {
	return &Builder{}
}

// Allow adds a statement allowing execute-api:Invoke on resources. Without
// resources it adds nothing: an empty Resource list would make API Gateway
// answer 500.
func (b *Builder) Allow(resources ...string) *Builder {
	return b.add(EffectAllow, resources)
}

// Deny adds a statement denying execute-api:Invoke on resources. Without
// resources it adds nothing.
func (b *Builder) Deny(resources ...string) *Builder {
	return b.add(EffectDeny, resources)
}

func (b *Builder) add(effect string, resources []string) *Builder {
	if len(resources) == 0 {
		return b
	}
	b.statements = append(b.statements, Statement{
		Action:   StringOrSlice{ActionInvoke},
		Effect:   effect,
		Resource: append(StringOrSlice(nil), resources...),
	})
	return b
}

// Document returns the document built so far. Its Statement is never nil
// (a nil one encodes as null, which API Gateway rejects with 500), and it
// shares no memory with the Builder, so later calls do not change it. A
// document without statements still fails Validate: add at least one.
func (b *Builder) Document() Document {
	statements := make([]Statement, len(b.statements))
	for i, st := range b.statements {
		statements[i] = Statement{
			Action:   append(StringOrSlice(nil), st.Action...),
			Effect:   st.Effect,
			Resource: append(StringOrSlice(nil), st.Resource...),
		}
	}
	return Document{Version: Version, Statement: statements}
}
