package ijson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"
)

// The encoding/json Decoder implementation that scan replaced, kept as the
// reference that FuzzParseAgreesWithTheDecoder holds scan to: the same
// verdicts, the same errors (message and path), the same members.

func refParse(data []byte) (*Object, error) {
	if err := refValidate(data); err != nil {
		return nil, err
	}
	return refMembers(data, "")
}

func refElements(raw json.RawMessage, path string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	if err := json.Unmarshal(raw, &out); err != nil || out == nil {
		return nil, errorf(path, "%s must be an array", orBody(path))
	}
	return out, nil
}

// refValidate checks that data is exactly one JSON value that every reader
// reads the same way: valid UTF-8, no lone surrogate escapes, no duplicate
// names in any object, numbers within float64, at most MaxDepth deep.
func refValidate(data []byte) error {
	if !utf8.Valid(data) {
		return errorf("", "the request body is not valid UTF-8")
	}
	if err := checkSurrogates(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		object bool
		names  map[string]struct{}
		path   string
		index  int
		key    bool // object: the next token is a name
		name   string
	}
	var stack []*frame
	// pathOf is the path of the value about to be read.
	pathOf := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := stack[len(stack)-1]
		if f.object {
			return join(f.path, f.name)
		}
		return fmt.Sprintf("%s[%d]", f.path, f.index)
	}
	// valueDone moves the enclosing frame past a complete value.
	valueDone := func() {
		if len(stack) == 0 {
			return
		}
		f := stack[len(stack)-1]
		if f.object {
			f.key = true
		} else {
			f.index++
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return errorf("", "the request body is not valid JSON")
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].key {
			f := stack[n-1]
			if d, ok := tok.(json.Delim); !ok || d != '}' {
				name := tok.(string) // the decoder allows only strings here
				if _, dup := f.names[name]; dup {
					return errorf(join(f.path, name), "%s appears more than once", join(f.path, name))
				}
				f.names[name] = struct{}{}
				f.name, f.key = name, false
				continue
			}
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) >= MaxDepth {
					return errorf("", "the request body is nested more than %d deep", MaxDepth)
				}
				stack = append(stack, &frame{object: t == '{', names: map[string]struct{}{}, path: pathOf(), key: t == '{'})
			case '}', ']':
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case json.Number:
			if f, err := strconv.ParseFloat(string(t), 64); err != nil || math.IsInf(f, 0) {
				return errorf(pathOf(), "%s is a number out of range", orBody(pathOf()))
			}
			valueDone()
		default:
			valueDone()
		}
		if len(stack) == 0 {
			// One value only: anything after it but space is an error.
			if _, err := dec.Token(); !errors.Is(err, io.EOF) {
				return errorf("", "the request body is not valid JSON")
			}
			return nil
		}
	}
}

// refMembers splits an object already checked by Validate into its members.
// path names the object in errors.
func refMembers(data []byte, path string) (*Object, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if d, ok := tok.(json.Delim); err != nil || !ok || d != '{' {
		return nil, errorf(path, "%s must be a JSON object", orBody(path))
	}
	o := &Object{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errorf(path, "%s is not valid JSON", orBody(path))
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, errorf(path, "%s is not valid JSON", orBody(path))
		}
		o.Members = append(o.Members, Member{Name: tok.(string), Value: raw})
	}
	return o, nil
}
