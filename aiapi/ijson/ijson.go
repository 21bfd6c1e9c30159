// Package ijson reads request bodies the one way every JSON reader agrees
// on, and writes back what was read. It owns the AI API's rule that the
// bytes sent upstream say exactly what was admitted and metered.
//
// JSON readers disagree on duplicate member names (encoding/json and
// Python keep the last, gjson the first), on case (encoding/json matches
// struct fields case-insensitively) and on invalid Unicode. A body that
// can be read two ways lets a caller be metered for one request and served
// another. So Parse refuses what RFC 7493 (I-JSON) forbids: duplicate names
// in any object, invalid UTF-8, lone surrogate escapes, and numbers that do
// not fit a float64; Object.Check refuses a member whose name is a case
// variant of a field the reader uses. What remains has one reading, and
// Object.Bytes re-encodes it with the admitted values set by the caller.
//
// ijson never decides what a field means: that is the protocol's job
// (aiapi's chat, embeddings, responses and messages readers).
package ijson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxDepth bounds nesting: deeper bodies are refused before any protocol
// reads them (encoding/json allows 10,000, which no AI request needs).
const MaxDepth = 128

// Error is a body that cannot be read one way only. Path names the member
// ("", "messages[2].content", "stream_options.include_usage"); Message is
// fit for the caller and never quotes the body beyond a member's name.
type Error struct {
	Path    string
	Message string
}

func (e *Error) Error() string { return "ijson: " + e.Message }

func errorf(path, format string, a ...any) *Error {
	return &Error{Path: path, Message: fmt.Sprintf(format, a...)}
}

// Member is one name/value pair of an object, in body order. Value is the
// member's JSON text, already checked by Parse.
type Member struct {
	Name  string
	Value json.RawMessage
}

// Object is a JSON object read by Parse: its members in order, each name
// once. The zero Object is an empty object.
type Object struct {
	Members []Member
}

// Parse reads data, which must be one JSON object, checking the whole
// document (nested values included) for what I-JSON forbids.
func Parse(data []byte) (*Object, error) {
	// The members' values are slices of a copy: the caller's buffer may be
	// reused, the Object's values may not change with it.
	s := scan{data: bytes.Clone(data), check: true, collect: true}
	if err := s.document(); err != nil {
		return nil, err
	}
	if !s.object {
		return nil, errorf("", "the request body must be a JSON object")
	}
	return &Object{Members: s.members}, nil
}

// Validate checks that data is exactly one JSON value that every reader
// reads the same way: valid UTF-8, no lone surrogate escapes, no duplicate
// names in any object, numbers within float64, at most MaxDepth deep.
func Validate(data []byte) error {
	s := scan{data: data, check: true}
	return s.document()
}

// checkSurrogates refuses \uD800–\uDFFF escapes that are not a high
// surrogate followed by a low one: encoding/json reads them as U+FFFD,
// Python keeps them, so two readers would see different strings.
func checkSurrogates(data []byte) error {
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' || i+1 >= len(data) {
			continue
		}
		if data[i+1] != 'u' {
			i++ // skip the escaped character (an escaped backslash included)
			continue
		}
		r, ok := hex4(data, i+2)
		if !ok {
			return nil // malformed: the decoder reports it
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return errorf("", "the request body has an unpaired UTF-16 surrogate escape")
		case r >= 0xD800 && r <= 0xDBFF:
			lo, ok := rune(0), i+11 < len(data) && data[i+6] == '\\' && data[i+7] == 'u'
			if ok {
				lo, ok = hex4(data, i+8)
			}
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return errorf("", "the request body has an unpaired UTF-16 surrogate escape")
			}
			i += 11
		default:
			i += 5
		}
	}
	return nil
}

func hex4(data []byte, at int) (rune, bool) {
	if at+4 > len(data) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(data[at:at+4]), 16, 32)
	return rune(v), err == nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func orBody(path string) string {
	if path == "" {
		return "the request body"
	}
	return path
}

// ParseObject reads a nested value (a member's Value, an array element) as
// an object; path names it in errors. The value must come from a document
// Parse accepted.
func ParseObject(raw json.RawMessage, path string) (*Object, error) {
	s := scan{data: raw, collect: true}
	s.space()
	if s.i >= len(s.data) || s.data[s.i] != '{' {
		return nil, errorf(path, "%s must be a JSON object", orBody(path))
	}
	if err := s.value(); err != nil {
		return nil, errorf(path, "%s is not valid JSON", orBody(path))
	}
	return &Object{Members: s.members}, nil
}

// Elements splits a nested array value into its elements; path names it
// in errors. The value must come from a document Parse accepted.
func Elements(raw json.RawMessage, path string) ([]json.RawMessage, error) {
	s := scan{data: raw, collect: true}
	s.space()
	if s.i >= len(s.data) || s.data[s.i] != '[' {
		return nil, errorf(path, "%s must be an array", orBody(path))
	}
	if err := s.value(); err != nil {
		return nil, errorf(path, "%s must be an array", orBody(path))
	}
	if s.space(); s.i != len(s.data) {
		return nil, errorf(path, "%s must be an array", orBody(path))
	}
	if s.elements == nil {
		s.elements = []json.RawMessage{}
	}
	return s.elements, nil
}

// Check refuses a member whose name differs only in case from one of the
// names the reader uses: an upstream that reads JSON case-insensitively (Go's
// encoding/json) would take it for the field, while aiapi, reading names
// exactly, would not. path names the object in errors.
func (o *Object) Check(path string, known ...string) error {
	for _, m := range o.Members {
		for _, k := range known {
			if m.Name != k && strings.EqualFold(m.Name, k) {
				return errorf(join(path, m.Name), "%s is not a field; did you mean %s?", join(path, m.Name), k)
			}
		}
	}
	return nil
}

// Get returns the value of the member named exactly name; a JSON null is
// reported as absent, since every protocol aiapi reads treats it as unset.
func (o *Object) Get(name string) (json.RawMessage, bool) {
	for _, m := range o.Members {
		if m.Name == name {
			if IsNull(m.Value) {
				return nil, false
			}
			return m.Value, true
		}
	}
	return nil, false
}

// Has reports whether a member is named name, whatever its value.
func (o *Object) Has(name string) bool {
	for _, m := range o.Members {
		if m.Name == name {
			return true
		}
	}
	return false
}

// Set replaces the value of the member named name, or appends the member.
// v is marshalled with encoding/json unless it is a json.RawMessage.
func (o *Object) Set(name string, v any) {
	raw, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(v); err != nil {
			panic("ijson: Set " + name + ": " + err.Error()) // callers set plain values
		}
	}
	for i := range o.Members {
		if o.Members[i].Name == name {
			o.Members[i].Value = raw
			return
		}
	}
	o.Members = append(o.Members, Member{Name: name, Value: raw})
}

// Delete removes the member named name, if any.
func (o *Object) Delete(name string) {
	for i := range o.Members {
		if o.Members[i].Name == name {
			o.Members = append(o.Members[:i], o.Members[i+1:]...)
			return
		}
	}
}

// Clone returns a copy whose members may be changed without changing o's.
func (o *Object) Clone() *Object {
	return &Object{Members: append([]Member(nil), o.Members...)}
}

// Bytes encodes the object: members in order, names in encoding/json's
// spelling, values as they were read or set.
func (o *Object) Bytes() []byte {
	n := 2
	for _, m := range o.Members {
		n += len(m.Name) + len(m.Value) + 4
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, m := range o.Members {
		if i > 0 {
			b = append(b, ',')
		}
		name, _ := json.Marshal(m.Name) // a string always marshals
		b = append(b, name...)
		b = append(b, ':')
		b = append(b, m.Value...)
	}
	return append(b, '}')
}

// IsNull reports whether raw is absent or the JSON null.
func IsNull(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// Int reads an integer member value. It refuses what readers disagree on:
// fractions and exponents ("1e3", "1.0"), and values outside int64.
func Int(raw json.RawMessage, path string) (int64, error) {
	s := string(bytes.TrimSpace(raw))
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if _, ferr := strconv.ParseFloat(s, 64); ferr == nil && s != "" && s[0] != '"' {
			return 0, errorf(path, "%s must be an integer within 64 bits", path)
		}
		return 0, errorf(path, "%s must be an integer", path)
	}
	return n, nil
}

// String reads a string member value.
func String(raw json.RawMessage, path string) (string, error) {
	if s, ok := plainString(raw); ok {
		return s, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", errorf(path, "%s must be a string", path)
	}
	return s, nil
}

// plainString reads a JSON string without escapes, the common case, as
// encoding/json would (its text is the string) without its allocations.
// ok is false for anything else: leading or trailing space, escapes,
// control characters, invalid UTF-8.
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	for _, c := range body {
		if c < 0x20 || c == '"' || c == '\\' {
			return "", false
		}
	}
	if !utf8.Valid(body) {
		return "", false
	}
	return string(body), true
}

// Bool reads a boolean member value.
func Bool(raw json.RawMessage, path string) (bool, error) {
	var v bool
	if err := json.Unmarshal(raw, &v); err != nil {
		return false, errorf(path, "%s must be a boolean", path)
	}
	return v, nil
}

// Float reads a number member value.
func Float(raw json.RawMessage, path string) (float64, error) {
	var v float64
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, errorf(path, "%s must be a number", path)
	}
	return v, nil
}

// MustParse is Parse for bodies written in code (tests, examples); it
// panics on an error.
func MustParse(data string) *Object {
	o, err := Parse([]byte(data))
	if err != nil {
		panic(err)
	}
	return o
}
