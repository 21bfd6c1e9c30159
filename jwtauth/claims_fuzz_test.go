package jwtauth

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

// FuzzDecodeClaims holds decodeClaims to its promise: the same members as
// json.Unmarshal into a map[string]json.RawMessage, for every input; and
// the string and string-array readers to encoding/json's reading.
func FuzzDecodeClaims(f *testing.F) {
	for _, s := range []string{
		`{"iss":"https://idp.example","exp":1800000000,"aud":["a","b"]}`,
		` { "a" : { "b" : [ 1 , "}" , {"c":"]"} ] } , "d":null } `,
		`{"\u0069ss":"x","iss":"y"}`,
		`{"a":"\"","b":"\\","c":"é","d\ud83d\ude00":true}`,
		`{"a":1,"a":2}`,
		`{}`, `[]`, `null`, `"str"`, `{"a":}`, `{"a":1,}`, "{\"a\xff\":1}",
		`{"n":-0.5e+10,"t":true,"f":false}`,
		`{"g":["a", "b\u0020c" ,"é"],"e":[],"m":["x",1],"z":[null]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want map[string]json.RawMessage
		werr := json.Unmarshal(data, &want)
		got, gerr := decodeClaims(data)
		if werr != nil || want == nil {
			if gerr == nil {
				t.Fatalf("decodeClaims(%q) = %q; encoding/json: %v, %v", data, got, want, werr)
			}
			return
		}
		if gerr != nil {
			t.Fatalf("decodeClaims(%q): %v; encoding/json: %q", data, gerr, want)
		}
		if len(got) != len(want) {
			t.Fatalf("decodeClaims(%q) = %q, want %q", data, got, want)
		}
		for k, w := range want {
			if g, ok := got[k]; !ok || !bytes.Equal(g, w) {
				t.Fatalf("decodeClaims(%q)[%q] = %q, want %q", data, k, g, w)
			}
			// Member values are decoded by stringValue and stringArray:
			// whatever they accept, encoding/json reads the same.
			if s, ok := stringValue(w); ok {
				var ws string
				if err := json.Unmarshal(w, &ws); err != nil || ws != s {
					t.Fatalf("stringValue(%q) = %q; encoding/json: %q, %v", w, s, ws, err)
				}
			}
			if a, ok := stringArray(w); ok {
				var wa []string
				if err := json.Unmarshal(w, &wa); err != nil || !slices.Equal(wa, a) {
					t.Fatalf("stringArray(%q) = %q; encoding/json: %q, %v", w, a, wa, err)
				}
			}
		}
	})
}
