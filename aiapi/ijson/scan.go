package ijson

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"
)

// scan reads one JSON text in a single pass, without building values: the
// syntax of RFC 8259 and, when check is set, what I-JSON forbids beside it
// (duplicate names, numbers beyond float64, nesting beyond MaxDepth). It
// replaced an encoding/json Decoder walk (Token by Token, a map per
// object, a path string per container), which cost ~150 allocations for a
// small chat request; reference_test.go keeps that walk, and a fuzz target
// holds scan to the same verdicts, errors and members.
//
// Errors come in document order, as the Decoder's did: a duplicate name is
// reported before a syntax error later in the body, an out-of-range number
// before whatever follows it.
type scan struct {
	data []byte
	i    int
	// check enables Validate's checks; without it only the syntax is read
	// (ParseObject and Elements, on values of a checked document).
	check bool
	// collect keeps the outermost container's members or elements.
	collect  bool
	object   bool // the outermost value is an object
	members  []Member
	elements []json.RawMessage

	stack []frame
	// names holds the names read so far in every open object, each
	// object's from its frame's first; closing the object drops them.
	names [][]byte
}

// frame is an open container.
type frame struct {
	object bool
	name   []byte // object: the member being read
	index  int    // array: the element being read
	first  int    // object: its first name in scan.names
	// set replaces the linear search of names in a large object.
	set map[string]struct{}
}

// errSyntax is any deviation from JSON's grammar; callers word it.
var errSyntax = errors.New("ijson: syntax")

// linearNames is how many names an object's duplicate check compares one
// by one before it switches to a set.
const linearNames = 16

// maxDepthUnchecked bounds nesting where check is off, as encoding/json
// does, so that no input recurses without bound.
const maxDepthUnchecked = 10000

// document reads data as one whole JSON text (Validate and Parse).
func (s *scan) document() error {
	if !utf8.Valid(s.data) {
		return errorf("", "the request body is not valid UTF-8")
	}
	if err := checkSurrogates(s.data); err != nil {
		return err
	}
	err := s.value()
	if err == nil {
		if s.space(); s.i != len(s.data) {
			err = errSyntax
		}
	}
	if err == errSyntax {
		return errorf("", "the request body is not valid JSON")
	}
	return err
}

// space skips JSON whitespace.
func (s *scan) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value reads one value, leading whitespace included.
func (s *scan) value() error {
	s.space()
	if s.i >= len(s.data) {
		return errSyntax
	}
	switch c := s.data[s.i]; {
	case c == '{':
		return s.readObject()
	case c == '[':
		return s.readArray()
	case c == '"':
		_, _, err := s.str()
		return err
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return errSyntax
}

// open enters a container at s.i.
func (s *scan) open(object bool) error {
	limit := maxDepthUnchecked
	if s.check {
		limit = MaxDepth
	}
	if len(s.stack) >= limit {
		if s.check {
			return errorf("", "the request body is nested more than %d deep", MaxDepth)
		}
		return errSyntax
	}
	if len(s.stack) == 0 {
		s.object = object
	}
	s.stack = append(s.stack, frame{object: object, first: len(s.names)})
	s.i++
	return nil
}

// close leaves the innermost container, past its closing byte.
func (s *scan) close() {
	f := &s.stack[len(s.stack)-1]
	if f.object {
		clear(s.names[f.first:])
		s.names = s.names[:f.first]
	}
	s.stack = s.stack[:len(s.stack)-1]
	s.i++
}

func (s *scan) readObject() error {
	if err := s.open(true); err != nil {
		return err
	}
	top := len(s.stack) - 1
	if s.space(); s.i < len(s.data) && s.data[s.i] == '}' {
		s.close()
		return nil
	}
	for {
		if s.space(); s.i >= len(s.data) || s.data[s.i] != '"' {
			return errSyntax
		}
		name, err := s.name()
		if err != nil {
			return err
		}
		if s.check {
			if err := s.distinct(top, name); err != nil {
				return err
			}
		}
		s.stack[top].name = name
		if s.space(); s.i >= len(s.data) || s.data[s.i] != ':' {
			return errSyntax
		}
		s.i++
		s.space()
		start := s.i
		if err := s.value(); err != nil {
			return err
		}
		if s.collect && top == 0 {
			s.members = append(s.members, Member{Name: string(name), Value: s.data[start:s.i:s.i]})
		}
		if s.space(); s.i >= len(s.data) {
			return errSyntax
		}
		switch s.data[s.i] {
		case ',':
			s.i++
		case '}':
			s.close()
			return nil
		default:
			return errSyntax
		}
	}
}

func (s *scan) readArray() error {
	if err := s.open(false); err != nil {
		return err
	}
	top := len(s.stack) - 1
	if s.space(); s.i < len(s.data) && s.data[s.i] == ']' {
		s.close()
		return nil
	}
	for {
		s.space()
		start := s.i
		if err := s.value(); err != nil {
			return err
		}
		if s.collect && top == 0 {
			s.elements = append(s.elements, s.data[start:s.i:s.i])
		}
		if s.space(); s.i >= len(s.data) {
			return errSyntax
		}
		switch s.data[s.i] {
		case ',':
			s.i++
			s.stack[top].index++
		case ']':
			s.close()
			return nil
		default:
			return errSyntax
		}
	}
}

// distinct records name in the object at stack[top], refusing a name it
// already has.
func (s *scan) distinct(top int, name []byte) error {
	f := &s.stack[top]
	dup := false
	if f.set != nil {
		_, dup = f.set[string(name)]
		f.set[string(name)] = struct{}{}
	} else {
		for _, n := range s.names[f.first:] {
			if bytes.Equal(n, name) {
				dup = true
				break
			}
		}
		s.names = append(s.names, name)
		if len(s.names)-f.first > linearNames {
			f.set = make(map[string]struct{}, 2*linearNames)
			for _, n := range s.names[f.first:] {
				f.set[string(n)] = struct{}{}
			}
		}
	}
	if dup {
		f.name = name
		p := s.path()
		return errorf(p, "%s appears more than once", p)
	}
	return nil
}

// path names the value being read: "messages[2].content".
func (s *scan) path() string {
	p := ""
	for _, f := range s.stack {
		if f.object {
			p = join(p, string(f.name))
		} else {
			p += "[" + strconv.Itoa(f.index) + "]"
		}
	}
	return p
}

// name reads a member name at s.i (a string), unescaped: "a" and "\u0061"
// are one name.
func (s *scan) name() ([]byte, error) {
	start := s.i
	raw, escaped, err := s.str()
	if err != nil || !escaped {
		return raw, err
	}
	var v string
	if err := json.Unmarshal(s.data[start:s.i], &v); err != nil {
		return nil, errSyntax
	}
	return []byte(v), nil
}

// str reads a string at s.i (its opening quote) and returns what is
// between the quotes, and whether it holds an escape. The text is valid
// UTF-8 already (document).
func (s *scan) str() (raw []byte, escaped bool, err error) {
	s.i++
	start := s.i
	for s.i < len(s.data) {
		switch c := s.data[s.i]; {
		case c == '"':
			raw = s.data[start:s.i]
			s.i++
			return raw, escaped, nil
		case c == '\\':
			escaped = true
			if s.i+1 >= len(s.data) {
				return nil, false, errSyntax
			}
			switch s.data[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.data) || !isHex(s.data[s.i+2]) || !isHex(s.data[s.i+3]) || !isHex(s.data[s.i+4]) || !isHex(s.data[s.i+5]) {
					return nil, false, errSyntax
				}
				s.i += 6
			default:
				return nil, false, errSyntax
			}
		case c < 0x20:
			return nil, false, errSyntax
		default:
			s.i++
		}
	}
	return nil, false, errSyntax
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number reads a number at s.i and, when checking, refuses one beyond
// float64 (before looking at what follows it, as the Decoder did).
func (s *scan) number() error {
	start := s.i
	if s.data[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i >= len(s.data) || !isDigit(s.data[s.i]):
		return errSyntax
	case s.data[s.i] == '0':
		s.i++
	default:
		for s.i < len(s.data) && isDigit(s.data[s.i]) {
			s.i++
		}
	}
	if s.i < len(s.data) && s.data[s.i] == '.' {
		s.i++
		if s.i >= len(s.data) || !isDigit(s.data[s.i]) {
			return errSyntax
		}
		for s.i < len(s.data) && isDigit(s.data[s.i]) {
			s.i++
		}
	}
	if s.i < len(s.data) && (s.data[s.i] == 'e' || s.data[s.i] == 'E') {
		s.i++
		if s.i < len(s.data) && (s.data[s.i] == '+' || s.data[s.i] == '-') {
			s.i++
		}
		if s.i >= len(s.data) || !isDigit(s.data[s.i]) {
			return errSyntax
		}
		for s.i < len(s.data) && isDigit(s.data[s.i]) {
			s.i++
		}
	}
	if s.check {
		if f, err := strconv.ParseFloat(string(s.data[start:s.i]), 64); err != nil || math.IsInf(f, 0) {
			p := s.path()
			return errorf(p, "%s is a number out of range", orBody(p))
		}
	}
	return nil
}

// literal reads true, false or null at s.i.
func (s *scan) literal(word string) error {
	if !bytes.HasPrefix(s.data[s.i:], []byte(word)) {
		return errSyntax
	}
	s.i += len(word)
	return nil
}
