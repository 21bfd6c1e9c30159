package ijson

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseRefusesWhatReadersReadDifferently(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		path       string // "" with ok: accepted
		ok         bool
	}{
		{"an object", `{"a":1,"b":[true,null,"x"],"c":{"d":1.5}}`, "", true},
		{"same name in sibling objects", `{"a":{"x":1},"b":{"x":2},"c":[{"x":1},{"x":2}]}`, "", true},
		{"names differing in case", `{"a":1,"A":2}`, "", true},
		{"a surrogate pair", `{"a":"\ud83d\ude00"}`, "", true},
		{"an escaped backslash before u", `{"a":"\\ud800"}`, "", true},
		{"duplicate at the top", `{"a":1,"a":2}`, "a", false},
		{"duplicate with null", `{"max_tokens":5,"max_tokens":null}`, "max_tokens", false},
		{"duplicate by escape", `{"model":1,"m\u006fdel":2}`, "model", false},
		{"duplicate nested", `{"a":{"b":[{"c":1,"c":1}]}}`, "a.b[0].c", false},
		{"lone high surrogate", `{"a":"\ud800x"}`, "", false},
		{"lone low surrogate", `{"a":"\udc00"}`, "", false},
		{"high surrogate then a non-low escape", `{"a":"\ud800\u0041"}`, "", false},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", "", false},
		{"number past float64", `{"a":[1e309]}`, "a[0]", false},
		{"two values", `{"a":1}{"b":2}`, "", false},
		{"trailing garbage", `{"a":1} x`, "", false},
		{"not an object", `[1]`, "", false},
		{"empty", ``, "", false},
		{"truncated", `{"a":[1,`, "", false},
		{"too deep", strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := Parse([]byte(tc.body))
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if !bytes.Equal(compact(t, o.Bytes()), compact(t, []byte(tc.body))) {
					t.Errorf("Bytes() = %s, want %s", o.Bytes(), tc.body)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want an *Error", err)
			}
			if e.Path != tc.path {
				t.Errorf("path = %q (%s), want %q", e.Path, e.Message, tc.path)
			}
		})
	}
}

func compact(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestCheckRefusesCaseVariantsOfKnownNames(t *testing.T) {
	o := MustParse(`{"model":"a","Max_Tokens":3,"other":1}`)
	if err := o.Check("", "model", "n"); err != nil {
		t.Errorf("no variant of model or n, got %v", err)
	}
	err := o.Check("", "model", "max_tokens")
	var e *Error
	if !errors.As(err, &e) || e.Path != "Max_Tokens" || !strings.Contains(e.Message, "max_tokens") {
		t.Errorf("err = %v, want one naming Max_Tokens and max_tokens", err)
	}
}

func TestSetDeleteAndBytesKeepOrderAndOneMemberPerName(t *testing.T) {
	o := MustParse(`{"b":1,"a":null,"c":[1]}`)
	if _, ok := o.Get("a"); ok {
		t.Error("null reported present")
	}
	if !o.Has("a") {
		t.Error("Has misses a null member")
	}
	c := o.Clone()
	c.Set("b", 2)
	c.Set("d", map[string]bool{"x": true})
	c.Delete("a")
	c.Set("c", json.RawMessage(`"x"`))
	if got, want := string(c.Bytes()), `{"b":2,"c":"x","d":{"x":true}}`; got != want {
		t.Errorf("clone = %s, want %s", got, want)
	}
	if got, want := string(o.Bytes()), `{"b":1,"a":null,"c":[1]}`; got != want {
		t.Errorf("original changed: %s", got)
	}
}

func TestIntRefusesWhatReadersDisagreeOn(t *testing.T) {
	for raw, ok := range map[string]bool{
		"5": true, "-3": true, "9223372036854775807": true,
		"9223372036854775808": false, "1e3": false, "1.0": false, `"5"`: false, "true": false,
	} {
		_, err := Int(json.RawMessage(raw), "f")
		if (err == nil) != ok {
			t.Errorf("Int(%s) err = %v, want ok=%v", raw, err, ok)
		}
	}
}

// FuzzParse checks Parse against encoding/json as a reference: whatever
// Parse accepts is valid JSON with no duplicate names, and its re-encoding
// holds the same value.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"a":{"b":[1,"x",null]},"c":true}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := Parse(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		var want, got any
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(o.Bytes(), &got); err != nil {
			t.Fatalf("re-encoding %q is not JSON: %v", o.Bytes(), err)
		}
		wb, _ := json.Marshal(want)
		gb, _ := json.Marshal(got)
		if !bytes.Equal(wb, gb) {
			t.Fatalf("re-encoded %s, want %s", gb, wb)
		}
		// No duplicates: the member count equals the distinct names.
		seen := map[string]bool{}
		for _, m := range o.Members {
			if seen[m.Name] {
				t.Fatalf("duplicate %q accepted", m.Name)
			}
			seen[m.Name] = true
		}
	})
}

// FuzzParseAgreesWithTheDecoder holds the one-pass scanner to the
// encoding/json Decoder walk it replaced (reference_test.go): the same
// verdict, the same error (message and path), the same members, for Parse,
// ParseObject and Elements alike.
func FuzzParseAgreesWithTheDecoder(f *testing.F) {
	for _, s := range []string{
		`{"a":{"b":[1,"x",null]},"c":true}`, `{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `{"m":[{"x":1},{"x":1e400}]}`,
		`[{"a":1,"a":2}]`, `[1e400x]`, `{"a":[1,]}`, `{"a":1,}`, ` {"a" : [ 1 , 2 ] } `, `{} {}`, `"x"`, `01`, `-`,
		`{"a":"\ud800"}`, `{"a":"\ud83d\ude00"}`, "{\"a\":\"\xff\"}", `{"a":tru}`, `{"a":1.}`, `{"a":1e}`, `{"a":-0.5E+3}`,
		strings.Repeat("[", 129) + strings.Repeat("]", 129), strings.Repeat(`{"a":`, 128) + "1" + strings.Repeat("}", 128),
		`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"a":19}`,
	} {
		f.Add([]byte(s))
	}
	same := func(t *testing.T, what string, in []byte, got, want error) {
		t.Helper()
		if (got == nil) != (want == nil) || got != nil && (got.Error() != want.Error() || got.(*Error).Path != want.(*Error).Path) {
			t.Fatalf("%s(%q): error %#v, the Decoder's %#v", what, in, got, want)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := Parse(data)
		ro, rerr := refParse(data)
		same(t, "Parse", data, err, rerr)
		if err == nil && !reflect.DeepEqual(o, ro) {
			t.Fatalf("Parse(%q) = %q, the Decoder's %q", data, o.Members, ro.Members)
		}
		// Nested values of a checked document, and the document itself.
		raws := []json.RawMessage{data}
		if ro != nil {
			for _, m := range ro.Members {
				raws = append(raws, m.Value)
			}
		}
		for _, raw := range raws {
			if !utf8.Valid(raw) || refValidate(raw) != nil {
				continue // ParseObject and Elements read checked values only
			}
			o, err := ParseObject(raw, "v")
			ro, rerr := refMembers(raw, "v")
			same(t, "ParseObject", raw, err, rerr)
			if err == nil && !reflect.DeepEqual(o, ro) {
				t.Fatalf("ParseObject(%q) = %q, the Decoder's %q", raw, o.Members, ro.Members)
			}
			e, err := Elements(raw, "v")
			re, rerr := refElements(raw, "v")
			same(t, "Elements", raw, err, rerr)
			if err == nil && !reflect.DeepEqual(e, re) {
				t.Fatalf("Elements(%q) = %q, the Decoder's %q", raw, e, re)
			}
		}
	})
}

// BenchmarkParse reads the bench program's chat request (bench/gateways.go)
// with Parse, and with the Decoder walk Parse replaced.
func BenchmarkParse(b *testing.B) {
	body := []byte(`{"model":"bench-model","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hello to the benchmark."}],"max_tokens":16}`)
	for _, p := range []struct {
		name  string
		parse func([]byte) (*Object, error)
	}{{"scan", Parse}, {"decoder", refParse}} {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.parse(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzStringReadsWhatEncodingJSONReads: String's fast path for plain
// strings answers what json.Unmarshal answers.
func FuzzStringReadsWhatEncodingJSONReads(f *testing.F) {
	for _, s := range []string{`"hello"`, `"a\"b"`, `"\u00e9"`, "\"\xff\"", `""`, ` "x"`, `"x`, `"tab	"`, `"é"`, `5`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := String(raw, "f")
		var want string
		werr := json.Unmarshal(raw, &want)
		if (err == nil) != (werr == nil) || err == nil && got != want {
			t.Fatalf("String(%q) = %q, %v; json.Unmarshal: %q, %v", raw, got, err, want, werr)
		}
	})
}
