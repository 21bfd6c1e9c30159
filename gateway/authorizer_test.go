package gateway

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestAuthorizerJSONIsTheProxyEventsAuthorizer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		output  string
		httpAPI bool
	}{
		{"context of every type", `{"principalId":"p<1>","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]},"context":{"b":true,"n":1.50,"s":"x\"y&z","zz":"last","A":"upper"}}`, false},
		{"no context", `{"principalId":"p","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]}}`, false},
		{"null context value", `{"principalId":"p","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]},"context":{"gone":null,"s":"x"}}`, false},
		{"HTTP API arrays and maps", `{"principalId":"p","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]},"context":{"arrayKey":["a",1],"mapKey":{"k":"v"},"n":null}}`, true},
		{"context overriding reserved keys", `{"principalId":"p","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]},"context":{"principalId":"fake","integrationLatency":"fake"}}`, false},
		{"HTTP API", `{"principalId":"p","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]},"context":{"rpm":60,"t":"a"}}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := parseIAMOutput([]byte(tc.output), tc.httpAPI)
			if err != nil {
				t.Fatal(err)
			}
			out.encodeAuthorizerJSON(tc.httpAPI)
			rq := &request{api: &api{httpAPI: tc.httpAPI}, auth: out, authLatency: 42 * time.Millisecond}
			var want []byte
			if tc.httpAPI {
				want = appendJSON(nil, rq.v2AuthorizerDescription())
			} else {
				want = appendJSON(nil, rq.restAuthorizerMap())
			}
			if got := rq.appendAuthorizerJSON(nil); string(got) != string(want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			if !json.Valid(rq.appendAuthorizerJSON(nil)) {
				t.Error("invalid JSON")
			}
		})
	}
}

func TestContextValuesAreStringifiedAsAWSDoes(t *testing.T) {
	out, err := parseIAMOutput([]byte(`{"principalId":"p","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]},"context":{"int":1,"float":2.5,"t":true,"f":false,"s":"s"}}`), false)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"int": "1", "float": "2.5", "t": "true", "f": "false", "s": "s"}
	for k, v := range want {
		if out.strContext[k] != v {
			t.Errorf("%s = %q, want %q", k, out.strContext[k], v)
		}
	}
	for _, bad := range []string{`{"o":{}}`, `{"a":[1]}`} {
		_, err := parseIAMOutput([]byte(`{"principalId":"p","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]},"context":`+bad+`}`), false)
		if err == nil || !strings.Contains(err.Error(), "not a string, number, boolean or null") {
			t.Errorf("context %s: err = %v", bad, err)
		}
	}
}

func FuzzParseAuthorizerOutput(f *testing.F) {
	f.Add([]byte(`{"principalId":"p","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]},"context":{"a":1}}`))
	f.Add([]byte(`{"isAuthorized":true,"context":{"a":"b"}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		rest := func(raw []byte) (*authOutput, error) { return parseIAMOutput(raw, false) }
		for _, parse := range []func([]byte) (*authOutput, error){rest, parseSimpleOutput} {
			out, err := parse(raw)
			if err != nil {
				continue
			}
			out.encodeAuthorizerJSON(false)
			rq := &request{api: &api{}, auth: out}
			if !json.Valid(rq.appendAuthorizerJSON(nil)) {
				t.Fatalf("invalid $context.authorizer for %q", raw)
			}
			if out.policy != nil && out.policy.Validate() != nil {
				t.Fatalf("accepted an invalid policy: %q", raw)
			}
		}
	})
}
