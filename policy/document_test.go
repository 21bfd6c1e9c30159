package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

const (
	prodPrefix = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/"
	chatARN    = prodPrefix + "POST/v1/chat/completions"
)

func TestStringOrSliceDecodesStringArrayAndNull(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    StringOrSlice
		wantErr bool
	}{
		{"string becomes one element", `"execute-api:Invoke"`, StringOrSlice{"execute-api:Invoke"}, false},
		{"array of strings", `["a", "b"]`, StringOrSlice{"a", "b"}, false},
		{"empty array is empty not nil", `[]`, StringOrSlice{}, false},
		{"null is nil", `null`, nil, false},
		{"whitespace around value", " \"a\" ", StringOrSlice{"a"}, false},
		{"escaped string", `"a\u002fb"`, StringOrSlice{"a/b"}, false},
		{"number is an error", `1`, nil, true},
		{"boolean is an error", `true`, nil, true},
		{"object is an error", `{"a":"b"}`, nil, true},
		{"number in array is an error", `["a", 1]`, nil, true},
		{"null in array is an error", `["a", null]`, nil, true},
		{"nested array is an error", `[["a"]]`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got StringOrSlice
			err := json.Unmarshal([]byte(tt.json), &got)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("decoded %s as %q, want an error", tt.json, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode %s: %v", tt.json, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("decoded %s as %#v, want %#v", tt.json, got, tt.want)
			}
		})
	}
}

func TestStringOrSliceFieldErrorsAreNotSwallowed(t *testing.T) {
	var d Document
	err := json.Unmarshal([]byte(`{"Version":"2012-10-17","Statement":[{"Action":5,"Effect":"Allow","Resource":"*"}]}`), &d)
	if err == nil {
		t.Fatal("a numeric Action decoded without error")
	}
}

func TestStringOrSliceAlwaysEncodesAsArray(t *testing.T) {
	tests := []struct {
		in   StringOrSlice
		want string
	}{
		{nil, `[]`},
		{StringOrSlice{}, `[]`},
		{StringOrSlice{"a"}, `["a"]`},
		{StringOrSlice{"a", "b"}, `["a","b"]`},
	}
	for _, tt := range tests {
		got, err := json.Marshal(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("Marshal(%#v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// authorizerResponse is the shape of an authorizer's answer, enough to read
// the AWS fixture.
type authorizerResponse struct {
	PrincipalID        string            `json:"principalId"`
	PolicyDocument     Document          `json:"policyDocument"`
	Context            map[string]string `json:"context"`
	UsageIdentifierKey string            `json:"usageIdentifierKey"`
}

func TestAWSFixtureResponseRoundTrips(t *testing.T) {
	raw, err := os.ReadFile("testdata/apigw-custom-auth-response.json")
	if err != nil {
		t.Fatal(err)
	}
	var resp authorizerResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatalf("decode fixture: %v", err)
	}
	st := resp.PolicyDocument.Statement
	if resp.PolicyDocument.Version != Version || len(st) != 1 || len(st[0].Action) != 1 || st[0].Action[0] != ActionInvoke {
		t.Fatalf("fixture decoded as %+v", resp.PolicyDocument)
	}
	out, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip changed the fixture:\n got %s\nwant %s", out, raw)
	}
}

// TestBuiltDocumentDecodesAsAWSLambdaGoPolicy checks that what we encode is
// readable by aws-lambda-go, which only takes arrays.
func TestBuiltDocumentDecodesAsAWSLambdaGoPolicy(t *testing.T) {
	doc := NewDocument().Allow(prodPrefix + "*/v1/*").Deny(prodPrefix + "*/v1/admin/*").Document()
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var theirs events.APIGatewayCustomAuthorizerPolicy
	if err := json.Unmarshal(raw, &theirs); err != nil {
		t.Fatalf("aws-lambda-go cannot read %s: %v", raw, err)
	}
	if theirs.Version != Version || len(theirs.Statement) != 2 || theirs.Statement[1].Effect != EffectDeny ||
		!reflect.DeepEqual(theirs.Statement[0].Resource, []string{prodPrefix + "*/v1/*"}) {
		t.Fatalf("aws-lambda-go read %+v", theirs)
	}
}

func TestStringFormPolicyDecodes(t *testing.T) {
	raw := `{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"` + prodPrefix + `*"}]}`
	var d Document
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := d.Evaluate(chatARN); got != Allow {
		t.Fatalf("Evaluate = %v, want Allow", got)
	}
}

func TestBuilderDocumentNeverHasNilStatement(t *testing.T) {
	doc := NewDocument().Document()
	if doc.Statement == nil {
		t.Fatal("Statement is nil")
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("null")) {
		t.Fatalf("empty document encodes null: %s", raw)
	}
	if err := doc.Validate(); err == nil {
		t.Fatal("a document without statements validated")
	}
}

func TestBuilderAddsNothingWithoutResources(t *testing.T) {
	doc := NewDocument().Allow().Deny().Allow(chatARN).Document()
	if len(doc.Statement) != 1 {
		t.Fatalf("got %d statements, want 1", len(doc.Statement))
	}
}

func TestBuilderDocumentSharesNoMemory(t *testing.T) {
	resources := []string{prodPrefix + "*"}
	b := NewDocument().Allow(resources...)
	doc := b.Document()
	resources[0] = "*"
	b.Deny(prodPrefix + "*")
	if len(doc.Statement) != 1 || doc.Statement[0].Resource[0] != prodPrefix+"*" {
		t.Fatalf("document changed after it was built: %+v", doc)
	}
	doc.Statement[0].Resource[0] = "*"
	if got := b.Document().Statement[0].Resource[0]; got != prodPrefix+"*" {
		t.Fatalf("builder changed through a built document: %q", got)
	}
}

func TestBuiltDocumentValidates(t *testing.T) {
	doc := NewDocument().Allow(prodPrefix+"*/v1/*", prodPrefix+"GET/").Deny(prodPrefix + "*/v1/admin/*").Document()
	if err := doc.Validate(); err != nil {
		t.Fatal(err)
	}
	want := `{"Version":"2012-10-17","Statement":[` +
		`{"Action":["execute-api:Invoke"],"Effect":"Allow","Resource":["` + prodPrefix + `*/v1/*","` + prodPrefix + `GET/"]},` +
		`{"Action":["execute-api:Invoke"],"Effect":"Deny","Resource":["` + prodPrefix + `*/v1/admin/*"]}]}`
	raw, _ := json.Marshal(doc)
	if string(raw) != want {
		t.Fatalf("encoded\n %s\nwant\n %s", raw, want)
	}
}

func TestValidateRefusesWhatAPIGatewayRefuses(t *testing.T) {
	ok := Statement{Action: StringOrSlice{ActionInvoke}, Effect: EffectAllow, Resource: StringOrSlice{prodPrefix + "*"}}
	with := func(f func(*Statement)) []Statement {
		st := ok
		f(&st)
		return []Statement{ok, st}
	}
	tests := []struct {
		name string
		doc  Document
	}{
		{"missing Version", Document{Statement: []Statement{ok}}},
		{"unknown Version", Document{Version: "2012-10-18", Statement: []Statement{ok}}},
		{"nil Statement", Document{Version: Version}},
		{"empty Statement", Document{Version: Version, Statement: []Statement{}}},
		{"lowercase Effect", Document{Version: Version, Statement: with(func(s *Statement) { s.Effect = "allow" })}},
		{"empty Effect", Document{Version: Version, Statement: with(func(s *Statement) { s.Effect = "" })}},
		{"placeholder Effect", Document{Version: Version, Statement: with(func(s *Statement) { s.Effect = "Allow|Deny" })}},
		{"nil Action", Document{Version: Version, Statement: with(func(s *Statement) { s.Action = nil })}},
		{"empty Action string", Document{Version: Version, Statement: with(func(s *Statement) { s.Action = StringOrSlice{""} })}},
		{"nil Resource", Document{Version: Version, Statement: with(func(s *Statement) { s.Resource = nil })}},
		{"empty NotResource list", Document{Version: Version, Statement: with(func(s *Statement) { s.Resource, s.NotResource = nil, StringOrSlice{} })}},
		{"empty NotAction list", Document{Version: Version, Statement: with(func(s *Statement) { s.Action, s.NotAction = nil, StringOrSlice{} })}},
		{"Action and NotAction", Document{Version: Version, Statement: with(func(s *Statement) { s.NotAction = StringOrSlice{"s3:*"} })}},
		{"Resource and NotResource", Document{Version: Version, Statement: with(func(s *Statement) { s.NotResource = StringOrSlice{"*"} })}},
		{"empty NotResource string", Document{Version: Version, Statement: with(func(s *Statement) { s.Resource, s.NotResource = nil, StringOrSlice{""} })}},
		{"NotResource too long", Document{Version: Version, Statement: with(func(s *Statement) {
			s.Resource, s.NotResource = nil, StringOrSlice{strings.Repeat("x", MaxResourceLength+1)}
		})}},
		{"empty Resource string", Document{Version: Version, Statement: with(func(s *Statement) { s.Resource = StringOrSlice{"*", ""} })}},
		{"Resource too long", Document{Version: Version, Statement: with(func(s *Statement) {
			s.Resource = StringOrSlice{prodPrefix + strings.Repeat("x", MaxResourceLength-len(prodPrefix)+1)}
		})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.doc.Validate()
			if !errors.Is(err, ErrInvalidDocument) {
				t.Fatalf("Validate = %v, want ErrInvalidDocument", err)
			}
			if !strings.HasPrefix(err.Error(), "policy: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestValidateAcceptsEdgeCases(t *testing.T) {
	st := func(r string) []Statement {
		return []Statement{{Action: StringOrSlice{"execute-api:*"}, Effect: EffectDeny, Resource: StringOrSlice{r}}}
	}
	longest := prodPrefix + strings.Repeat("x", MaxResourceLength-len(prodPrefix))
	// 512 characters of which some are multibyte: the limit counts characters.
	multibyte := strings.Repeat("é", MaxResourceLength)
	for _, d := range []Document{
		{Version: Version, Statement: st(longest)},
		{Version: Version, Statement: st(multibyte)},
		{Version: "2008-10-17", Statement: st("*")},
		// Chalice denies with an Allow on no resources: a 403, not a 500.
		{Version: Version, Statement: []Statement{{Action: StringOrSlice{ActionInvoke}, Effect: EffectAllow, Resource: StringOrSlice{}}}},
		{Version: Version, Statement: []Statement{{NotAction: StringOrSlice{"s3:*"}, Effect: EffectAllow, NotResource: StringOrSlice{"*/admin/*"}}}},
	} {
		if err := d.Validate(); err != nil {
			t.Errorf("Validate(%+.40v) = %v", d, err)
		}
	}
}

func TestEvaluateFollowsIAMRules(t *testing.T) {
	const otherAPI = "arn:aws:execute-api:us-east-1:123456789012:zzzzzzzzzz/prod/POST/v1/chat/completions"
	const otherStage = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/POST/v1/chat/completions"
	allow := func(actions StringOrSlice, resources ...string) Statement {
		return Statement{Action: actions, Effect: EffectAllow, Resource: resources}
	}
	deny := func(actions StringOrSlice, resources ...string) Statement {
		return Statement{Action: actions, Effect: EffectDeny, Resource: resources}
	}
	invoke := StringOrSlice{ActionInvoke}
	tests := []struct {
		name       string
		statements []Statement
		arn        string
		want       Result
	}{
		{"no statement is an implicit deny", nil, chatARN, ImplicitDeny},
		{"matching allow", []Statement{allow(invoke, prodPrefix+"*")}, chatARN, Allow},
		{"exact ARN allow", []Statement{allow(invoke, chatARN)}, chatARN, Allow},
		{"deny wins over allow", []Statement{allow(invoke, "*"), deny(invoke, prodPrefix+"POST/v1/*")}, chatARN, ExplicitDeny},
		{"deny wins when it comes first", []Statement{deny(invoke, chatARN), allow(invoke, "*")}, chatARN, ExplicitDeny},
		{"deny elsewhere leaves allow", []Statement{allow(invoke, "*"), deny(invoke, prodPrefix+"*/v1/admin/*")}, chatARN, Allow},
		{"deny alone without match is implicit", []Statement{deny(invoke, prodPrefix+"GET/*")}, chatARN, ImplicitDeny},
		{"no matching allow is implicit", []Statement{allow(invoke, prodPrefix+"GET/*")}, chatARN, ImplicitDeny},
		{"lowercase action", []Statement{allow(StringOrSlice{"execute-api:invoke"}, "*")}, chatARN, Allow},
		{"service wildcard action", []Statement{allow(StringOrSlice{"execute-api:*"}, "*")}, chatARN, Allow},
		{"star action", []Statement{allow(StringOrSlice{"*"}, "*")}, chatARN, Allow},
		{"prefix wildcard action", []Statement{allow(StringOrSlice{"execute-api:Inv*"}, "*")}, chatARN, Allow},
		{"other action does not allow", []Statement{allow(StringOrSlice{"execute-api:ManageConnections"}, "*")}, chatARN, ImplicitDeny},
		{"other service does not allow", []Statement{allow(StringOrSlice{"lambda:Invoke*"}, "*")}, chatARN, ImplicitDeny},
		{"other action does not deny", []Statement{allow(invoke, "*"), deny(StringOrSlice{"execute-api:InvalidateCache"}, "*")}, chatARN, Allow},
		{"one of several actions", []Statement{allow(StringOrSlice{"s3:GetObject", "execute-api:Invoke"}, "*")}, chatARN, Allow},
		{"one of several resources", []Statement{allow(invoke, prodPrefix+"GET/*", prodPrefix+"POST/v1/*")}, chatARN, Allow},
		{"resource is case-sensitive", []Statement{allow(invoke, prodPrefix+"post/*")}, chatARN, ImplicitDeny},
		{"policy for one API does not allow another", []Statement{allow(invoke, prodPrefix+"*")}, otherAPI, ImplicitDeny},
		{"policy for one stage does not allow another", []Statement{allow(invoke, prodPrefix+"*")}, otherStage, ImplicitDeny},
		{"root path ARN", []Statement{allow(invoke, prodPrefix+"GET/")}, prodPrefix + "GET/", Allow},
		{"root allow does not cover children", []Statement{allow(invoke, prodPrefix+"GET/")}, prodPrefix + "GET/v1", ImplicitDeny},
		{"wildcard path covers root", []Statement{allow(invoke, prodPrefix+"*/*")}, prodPrefix + "GET/", Allow},
		{"question mark matches one character", []Statement{allow(invoke, prodPrefix+"???/*")}, prodPrefix + "GET/x", Allow},
		{"lowercase effect is ignored", []Statement{{Action: invoke, Effect: "allow", Resource: StringOrSlice{"*"}}}, chatARN, ImplicitDeny},
		{"lowercase deny is ignored", []Statement{allow(invoke, "*"), {Action: invoke, Effect: "deny", Resource: StringOrSlice{"*"}}}, chatARN, Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Document{Version: Version, Statement: tt.statements}
			if got := d.Evaluate(tt.arn); got != tt.want {
				t.Fatalf("Evaluate = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestCachedPolicyIsReevaluatedPerMethod is the cache trap from the spec: a
// policy for only the incoming methodArn refuses the next route, a stage
// policy does not.
func TestCachedPolicyIsReevaluatedPerMethod(t *testing.T) {
	a, err := ParseMethodARN(chatARN)
	if err != nil {
		t.Fatal(err)
	}
	narrow := NewDocument().Allow(chatARN).Document()
	broad := NewDocument().Allow(a.StagePrefix() + "*/v1/*").Document()
	next := a.StagePrefix() + "GET/v1/models"
	if got := narrow.Evaluate(next); got != ImplicitDeny {
		t.Fatalf("narrow policy on next route = %v", got)
	}
	if got := broad.Evaluate(next); got != Allow {
		t.Fatalf("stage policy on next route = %v", got)
	}
}

func TestResultString(t *testing.T) {
	for r, want := range map[Result]string{ImplicitDeny: "ImplicitDeny", Allow: "Allow", ExplicitDeny: "ExplicitDeny", Result(7): "Result(7)"} {
		if got := r.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(r), got, want)
		}
	}
}

func TestEvaluateDoesNotAllocate(t *testing.T) {
	doc := benchDocument()
	allocs := testing.AllocsPerRun(100, func() { doc.Evaluate(chatARN) })
	if allocs != 0 {
		t.Fatalf("Evaluate allocates %v times per call", allocs)
	}
}

func FuzzDocumentJSON(f *testing.F) {
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]}`))
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Action":["execute-api:*"],"Effect":"Deny","Resource":["a","b"]}]}`))
	f.Add([]byte(`{"Version":"2012-10-17","Statement":null}`))
	f.Add([]byte(`{"Statement":[{"Action":1}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d Document
		if err := json.Unmarshal(data, &d); err != nil {
			return
		}
		d.Evaluate(chatARN)
		if d.Validate() != nil {
			return
		}
		raw, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("valid document does not encode: %v", err)
		}
		var again Document
		if err := json.Unmarshal(raw, &again); err != nil {
			t.Fatalf("re-encoded document %s does not decode: %v", raw, err)
		}
		if !reflect.DeepEqual(d, again) {
			t.Fatalf("round trip changed the document:\n%#v\n%#v", d, again)
		}
		if err := again.Validate(); err != nil {
			t.Fatalf("round trip made the document invalid: %v", err)
		}
		if d.Evaluate(chatARN) != again.Evaluate(chatARN) {
			t.Fatal("round trip changed the decision")
		}
	})
}

// benchDocument is the policy the authorizer returns for a typical key: the
// stage's /v1 routes, minus admin routes, plus the root for health checks.
func benchDocument() Document {
	return NewDocument().
		Allow(prodPrefix+"*/v1/*", prodPrefix+"GET/").
		Deny(prodPrefix + "*/v1/admin/*").
		Document()
}

func BenchmarkEvaluate(b *testing.B) {
	doc := benchDocument()
	b.ReportAllocs()
	for b.Loop() {
		if doc.Evaluate(chatARN) != Allow {
			b.Fatal("not allowed")
		}
	}
}
