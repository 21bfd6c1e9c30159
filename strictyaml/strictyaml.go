// Package strictyaml decodes configuration files strictly: an unknown field
// or a value of the wrong type is an error that names the field by its path
// ("apis[0].routes[2].integration.uri"), which yaml.v3's own errors give only
// as a line number and a Go type name. It knows nothing of what the
// configuration means; callers validate values after decoding.
package strictyaml

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Decode decodes data into v (a pointer to a struct). Errors start with
// prefix ("gateway: …") and name the first bad field.
func Decode(data []byte, v any, prefix string) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return oneLine(err, prefix)
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return fmt.Errorf("%s: config: empty document", prefix)
	}
	if err := check(root.Content[0], reflect.TypeOf(v), "", prefix); err != nil {
		return err
	}
	// check has named any unknown field and mistyped value; KnownFields
	// stays on as the safety net for whatever it does not model.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return oneLine(err, prefix)
	}
	return nil
}

// oneLine makes one line of yaml.v3's multi-line errors.
func oneLine(err error, prefix string) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return fmt.Errorf("%s: config: %s", prefix, strings.Join(te.Errors, "; "))
	}
	return fmt.Errorf("%s: config: %s", prefix, strings.ReplaceAll(err.Error(), "\n", " "))
}

var (
	unmarshaler  = reflect.TypeFor[yaml.Unmarshaler]()
	textType     = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationType = reflect.TypeFor[time.Duration]()
)

// check walks the YAML tree along the Go type it decodes into and reports
// the first unknown field or mistyped scalar by its path.
func check(n *yaml.Node, t reflect.Type, path, prefix string) error {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if t.Implements(unmarshaler) || reflect.PointerTo(t).Implements(unmarshaler) {
		return nil // the type checks itself when decoded
	}
	at := func(msg string) error {
		p := path
		if p == "" {
			p = "config"
		}
		return fmt.Errorf("%s: %s: %s (line %d)", prefix, p, msg, n.Line)
	}
	scalar := func(v any, msg string) error {
		if n.Kind != yaml.ScalarNode || n.Decode(v) != nil {
			return at(msg)
		}
		return nil
	}
	if reflect.PointerTo(t).Implements(textType) {
		// A scalar read as text (duration.Duration, say): its own parser
		// decides, and its error is reported at the field's path rather
		// than as the kind beneath it ("must be an integer").
		if n.Kind != yaml.ScalarNode {
			return at("must be a scalar")
		}
		if err := reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			return at(err.Error())
		}
		return nil
	}
	if t == durationType {
		// yaml.v3 decodes "90s" into a time.Duration, as well as an integer
		// of nanoseconds.
		var d time.Duration
		return scalar(&d, "must be a duration (like 30s or 5m)")
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return at("must be a mapping")
		}
		fields := map[string]reflect.Type{}
		collectFields(t, fields)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			ft, ok := fields[key]
			if !ok {
				return fmt.Errorf("%s: %s: unknown field (line %d)", prefix, joinPath(path, key), n.Content[i].Line)
			}
			if err := check(n.Content[i+1], ft, joinPath(path, key), prefix); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return at("must be a list")
		}
		for i, c := range n.Content {
			if err := check(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), prefix); err != nil {
				return err
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return at("must be a mapping")
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := check(n.Content[i+1], t.Elem(), joinPath(path, n.Content[i].Value), prefix); err != nil {
				return err
			}
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return at("must be a string")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var v int64
		return scalar(&v, "must be an integer")
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		var v uint64
		return scalar(&v, "must be a non-negative integer")
	case reflect.Float32, reflect.Float64:
		var v float64
		return scalar(&v, "must be a number")
	case reflect.Bool:
		var v bool
		return scalar(&v, "must be true or false")
	}
	return nil
}

// collectFields maps yaml keys to field types, descending into inline
// structs.
func collectFields(t reflect.Type, into map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if strings.Contains(opts, "inline") {
			collectFields(f.Type, into)
			continue
		}
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name) // yaml.v3's default key
		}
		into[name] = f.Type
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
