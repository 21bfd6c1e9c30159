package authz_test

import (
	"context"
	"slices"
	"testing"

	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/record"
)

// TestModelListCannotBeSplitAnotherWay: a comma in a model name used to
// become a second model (["echo,gpt-x"] granted gpt-x). The context now
// carries a JSON array, and names that are not model names are denied.
func TestModelListCannotBeSplitAnotherWay(t *testing.T) {
	f := newFixture(t)
	a := f.authorizer(t, authz.Config{})
	for _, tc := range []struct {
		name   string
		models []string
		want   authz.Outcome
	}{
		{"plain globs", []string{"gpt-4o*", "anthropic.claude-3-5-haiku-20241022-v1:0", "meta-llama/*"}, authz.Allow},
		{"comma inside a name", []string{"echo,gpt-x"}, authz.Deny},
		{"space inside a name", []string{"echo gpt-x"}, authz.Deny},
		{"quote inside a name", []string{`echo","gpt-x`}, authz.Deny},
		{"placeholder braces", []string{"{model}"}, authz.Deny},
		{"empty name", []string{"echo", ""}, authz.Deny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := f.addKey(t, func(k *record.Key) { k.Models = tc.models })
			d, err := a.Decide(context.Background(), k)
			if err != nil || d.Outcome != tc.want {
				t.Fatalf("Decide = %v (%s), %v; want %v", d.Outcome, d.Reason, err, tc.want)
			}
			if tc.want != authz.Allow {
				return
			}
			got, err := authz.ParseModels(d.Context[authz.CtxModels].(string))
			if err != nil || !slices.Equal(got, tc.models) {
				t.Fatalf("ParseModels(%s) = %q, %v; want %q", d.Context[authz.CtxModels], got, err, tc.models)
			}
		})
	}
}

func TestParseModelsRefusesAnythingButItsOwnEncoding(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: `["echo","gpt-*"]`, want: []string{"echo", "gpt-*"}},
		{in: ` ["echo"] `, wantErr: true}, // not what EncodeModels writes
		{in: `[]`, want: []string{}},
		{in: `["echo"]` + "\n", want: []string{"echo"}},
		{in: `echo,gpt-x`, wantErr: true}, // the old comma-separated form
		{in: `echo`, wantErr: true},
		{in: ``, wantErr: true},
		{in: `null`, wantErr: true},
		{in: `[null]`, wantErr: true},
		{in: `["echo",1]`, wantErr: true},
		{in: `["echo,gpt-x"]`, wantErr: true},
		{in: `["echo"]["gpt-x"]`, wantErr: true},
		{in: `["echo"],"gpt-x"`, wantErr: true},
		{in: `["echo"`, wantErr: true},
		{in: `{"0":"echo"}`, wantErr: true},
		{in: `["\u0065cho"]`, want: []string{"echo"}},
		{in: `["caf\u00e9"]`, wantErr: true},
	} {
		got, err := authz.ParseModels(tc.in)
		if (err != nil) != tc.wantErr || (!tc.wantErr && !slices.Equal(got, tc.want)) {
			t.Errorf("ParseModels(%q) = %q, %v; want %q (error: %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
	if got := authz.EncodeModels(nil); got != "[]" {
		t.Errorf("EncodeModels(nil) = %s, want []", got)
	}
}

func FuzzModelsRoundTrip(f *testing.F) {
	f.Add("gpt-4o*", "echo")
	f.Add("echo,gpt-x", "a b")
	f.Fuzz(func(t *testing.T, a, b string) {
		models := []string{a, b}
		valid := authz.CheckModelPattern(a) == nil && authz.CheckModelPattern(b) == nil
		got, err := authz.ParseModels(authz.EncodeModels(models))
		if valid != (err == nil) {
			t.Fatalf("valid=%v but ParseModels(EncodeModels(%q)) = %q, %v", valid, models, got, err)
		}
		if valid && !slices.Equal(got, models) {
			t.Fatalf("round trip of %q gave %q", models, got)
		}
	})
}
