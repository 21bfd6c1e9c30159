package ijson

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
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
