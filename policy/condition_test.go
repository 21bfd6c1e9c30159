package policy

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// statement decodes one statement as an authorizer would send it.
func statement(t testing.TB, js string) Statement {
	t.Helper()
	var st Statement
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		t.Fatalf("decode %s: %v", js, err)
	}
	return st
}

var testKeys = ConditionKeys{
	SourceIP:        netip.MustParseAddr("203.0.113.7"),
	CurrentTime:     time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
	SecureTransport: false,
	UserAgent:       "curl/8.5.0",
}

func TestNotActionAndNotResourceFollowIAM(t *testing.T) {
	tests := []struct {
		name       string
		statements []string
		want       Result
	}{
		{"NotResource allows what it does not name",
			[]string{`{"Effect":"Allow","Action":"execute-api:Invoke","NotResource":"` + prodPrefix + `*/v1/admin/*"}`}, Allow},
		{"NotResource does not allow what it names",
			[]string{`{"Effect":"Allow","Action":"execute-api:Invoke","NotResource":["x","` + prodPrefix + `POST/*"]}`}, ImplicitDeny},
		{"Deny with NotResource denies everything else",
			[]string{`{"Effect":"Allow","Action":"*","Resource":"*"}`, `{"Effect":"Deny","Action":"execute-api:Invoke","NotResource":"` + prodPrefix + `GET/*"}`}, ExplicitDeny},
		{"Deny with NotResource spares what it names",
			[]string{`{"Effect":"Allow","Action":"*","Resource":"*"}`, `{"Effect":"Deny","Action":"execute-api:Invoke","NotResource":"` + prodPrefix + `POST/*"}`}, Allow},
		{"NotAction of another service allows Invoke",
			[]string{`{"Effect":"Allow","NotAction":"execute-api:ManageConnections","Resource":"*"}`}, Allow},
		{"NotAction naming Invoke does not allow it",
			[]string{`{"Effect":"Allow","NotAction":["s3:*","execute-api:invoke"],"Resource":"*"}`}, ImplicitDeny},
		{"NotAction wildcard covering Invoke does not allow it",
			[]string{`{"Effect":"Allow","NotAction":"execute-api:*","Resource":"*"}`}, ImplicitDeny},
		{"Deny with NotAction of another action denies Invoke",
			[]string{`{"Effect":"Allow","Action":"*","Resource":"*"}`, `{"Effect":"Deny","NotAction":"execute-api:InvalidateCache","Resource":"*"}`}, ExplicitDeny},
		{"NotAction and NotResource together",
			[]string{`{"Effect":"Allow","NotAction":"s3:*","NotResource":"*/admin/*"}`}, Allow},
		{"empty Resource matches nothing",
			[]string{`{"Effect":"Allow","Action":"execute-api:Invoke","Resource":[]}`}, ImplicitDeny},
		{"empty Resource Deny matches nothing",
			[]string{`{"Effect":"Allow","Action":"*","Resource":"*"}`, `{"Effect":"Deny","Action":"*","Resource":[]}`}, Allow},
		{"statement without Action or NotAction never matches",
			[]string{`{"Effect":"Allow","Resource":"*"}`}, ImplicitDeny},
		{"statement without Resource or NotResource never matches",
			[]string{`{"Effect":"Allow","Action":"*"}`}, ImplicitDeny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Document{Version: Version}
			for _, s := range tt.statements {
				d.Statement = append(d.Statement, statement(t, s))
			}
			if got := d.Decide(chatARN, &testKeys); got.Result != tt.want || got.Unevaluated != nil {
				t.Fatalf("Decide = %+v, want %v", got, tt.want)
			}
		})
	}
}

// TestConditionsAreEvaluatedAsIAMDoes runs one conditional Allow per row,
// and the same condition on a Deny after an unconditional Allow: a holding
// condition allows (and denies), a failing one neither.
func TestConditionsAreEvaluatedAsIAMDoes(t *testing.T) {
	tests := []struct {
		name      string
		condition string
		holds     bool
	}{
		{"IpAddress in CIDR", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, true},
		{"IpAddress outside CIDR", `{"IpAddress":{"aws:SourceIp":"198.51.100.0/24"}}`, false},
		{"IpAddress single address", `{"IpAddress":{"aws:SourceIp":"203.0.113.7"}}`, true},
		{"IpAddress any of several", `{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","203.0.113.0/28"]}}`, true},
		{"IpAddress IPv6 prefix does not hold an IPv4 source", `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, false},
		{"NotIpAddress outside all", `{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}`, true},
		{"NotIpAddress inside one", `{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","203.0.113.0/24"]}}`, false},
		{"key names are case-insensitive", `{"IpAddress":{"AWS:SOURCEIP":"203.0.113.0/24"}}`, true},
		{"StringEquals", `{"StringEquals":{"aws:UserAgent":"curl/8.5.0"}}`, true},
		{"StringEquals is case-sensitive", `{"StringEquals":{"aws:UserAgent":"CURL/8.5.0"}}`, false},
		{"StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase":{"aws:UserAgent":"CURL/8.5.0"}}`, true},
		{"StringNotEquals", `{"StringNotEquals":{"aws:UserAgent":["wget","httpie"]}}`, true},
		{"StringNotEqualsIgnoreCase naming the value", `{"StringNotEqualsIgnoreCase":{"aws:UserAgent":"Curl/8.5.0"}}`, false},
		{"StringLike wildcard", `{"StringLike":{"aws:UserAgent":"curl/*"}}`, true},
		{"StringLike question mark", `{"StringLike":{"aws:UserAgent":"curl/?.5.0"}}`, true},
		{"StringNotLike", `{"StringNotLike":{"aws:UserAgent":"curl/*"}}`, false},
		{"absent key fails a positive operator", `{"StringEquals":{"aws:Referer":"https://example.com/"}}`, false},
		{"absent key satisfies a negated operator", `{"StringNotEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}`, true},
		{"absent key satisfies IfExists", `{"StringEqualsIfExists":{"aws:Referer":"https://example.com/"}}`, true},
		{"present key is tested by IfExists", `{"StringEqualsIfExists":{"aws:UserAgent":"wget"}}`, false},
		{"Null true on absent key", `{"Null":{"aws:SourceVpc":"true"}}`, true},
		{"Null true on present key", `{"Null":{"aws:SourceIp":"true"}}`, false},
		{"Null false on present key", `{"Null":{"aws:UserAgent":false}}`, true},
		{"Bool false over plain HTTP", `{"Bool":{"aws:SecureTransport":"false"}}`, true},
		{"Bool true over plain HTTP", `{"Bool":{"aws:SecureTransport":true}}`, false},
		{"DateGreaterThan", `{"DateGreaterThan":{"aws:CurrentTime":"2025-01-01T00:00:00Z"}}`, true},
		{"DateLessThan", `{"DateLessThan":{"aws:CurrentTime":"2025-01-01T00:00:00Z"}}`, false},
		{"DateLessThan with offset", `{"DateLessThan":{"aws:CurrentTime":"2025-06-01T14:30:00+02:00"}}`, true},
		{"DateLessThanEquals at the instant", `{"DateLessThanEquals":{"aws:CurrentTime":"2025-06-01T12:00:00Z"}}`, true},
		{"DateEquals with fraction", `{"DateEquals":{"aws:CurrentTime":"2025-06-01T12:00:00.000Z"}}`, true},
		{"DateNotEquals", `{"DateNotEquals":{"aws:CurrentTime":"2025-06-01"}}`, true},
		{"DateGreaterThanEquals day", `{"DateGreaterThanEquals":{"aws:CurrentTime":"2025-06-01"}}`, true},
		{"Date with epoch seconds", `{"DateGreaterThan":{"aws:CurrentTime":1700000000}}`, true},
		{"Date on EpochTime", `{"DateLessThan":{"aws:EpochTime":"2030-01-01T00:00:00Z"}}`, true},
		{"NumericGreaterThan on EpochTime", `{"NumericGreaterThan":{"aws:EpochTime":1748779199}}`, true},
		{"NumericLessThan on EpochTime", `{"NumericLessThan":{"aws:EpochTime":"1748779200"}}`, false},
		{"every operator must hold", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"},"StringLike":{"aws:UserAgent":"wget*"}}`, false},
		{"every key must hold", `{"StringEquals":{"aws:UserAgent":"curl/8.5.0","aws:SourceVpc":"vpc-1"}}`, false},
		{"all operators holding", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"},"Bool":{"aws:SecureTransport":"false"},"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allow := Document{Version: Version, Statement: []Statement{
				statement(t, `{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"*","Condition":`+tt.condition+`}`),
			}}
			if err := allow.Validate(); err != nil {
				t.Fatal(err)
			}
			want := map[bool]Result{true: Allow, false: ImplicitDeny}[tt.holds]
			if got := allow.Decide(chatARN, &testKeys); got.Result != want || got.Unevaluated != nil {
				t.Errorf("conditional Allow: %+v, want %v", got, want)
			}
			deny := Document{Version: Version, Statement: []Statement{
				statement(t, `{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"*"}`),
				statement(t, `{"Effect":"Deny","Action":"execute-api:Invoke","Resource":"*","Condition":`+tt.condition+`}`),
			}}
			want = map[bool]Result{true: ExplicitDeny, false: Allow}[tt.holds]
			if got := deny.Decide(chatARN, &testKeys); got.Result != want || got.Unevaluated != nil {
				t.Errorf("conditional Deny: %+v, want %v", got, want)
			}
		})
	}
}

// TestUnevaluableConditionsFailClosed: an Allow whose Condition cannot be
// evaluated does not match, a Deny does, and both are reported.
func TestUnevaluableConditionsFailClosed(t *testing.T) {
	tests := []struct {
		name      string
		condition string
		reason    string
	}{
		{"unknown operator", `{"ArnLike":{"aws:SourceArn":"arn:aws:*"}}`, "condition operator ArnLike is not evaluated"},
		{"operator names are case-sensitive", `{"stringequals":{"aws:UserAgent":"curl/8.5.0"}}`, "condition operator stringequals"},
		{"unknown key", `{"StringEquals":{"aws:PrincipalTag/team":"a"}}`, "condition key aws:PrincipalTag/team is not evaluated"},
		{"set operator", `{"ForAnyValue:StringLike":{"aws:UserAgent":"curl*"}}`, "set operator ForAnyValue:StringLike"},
		{"Null with IfExists", `{"NullIfExists":{"aws:UserAgent":"true"}}`, "NullIfExists"},
		{"policy variable", `{"StringEquals":{"aws:UserAgent":"${aws:username}"}}`, "cannot be read"},
		{"operator of the wrong type", `{"StringEquals":{"aws:SourceIp":"203.0.113.7"}}`, "does not apply to key aws:SourceIp"},
		{"Numeric on a date key", `{"NumericLessThan":{"aws:CurrentTime":"5"}}`, "does not apply"},
		{"bad CIDR", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/33"}}`, "cannot be read"},
		{"bad date", `{"DateLessThan":{"aws:CurrentTime":"June 2030"}}`, "cannot be read"},
		{"bare year is ambiguous", `{"DateLessThan":{"aws:CurrentTime":"2030"}}`, "cannot be read"},
		{"Bool not true or false", `{"Bool":{"aws:SecureTransport":"True"}}`, "cannot be read"},
		{"no values", `{"StringEquals":{"aws:UserAgent":[]}}`, "has no values"},
		{"operator without keys", `{"StringEquals":{}}`, "operator StringEquals has no keys"},
		{"empty Condition", `{}`, "empty Condition"},
		{"unknown part beside a false part", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"ArnLike":{"aws:SourceArn":"*"}}`, "ArnLike"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allow := Document{Version: Version, Statement: []Statement{
				statement(t, `{"Sid":"conditional","Effect":"Allow","Action":"execute-api:Invoke","Resource":"*","Condition":`+tt.condition+`}`),
			}}
			got := allow.Decide(chatARN, &testKeys)
			if got.Result != ImplicitDeny {
				t.Errorf("unevaluable Allow: %v, want ImplicitDeny", got.Result)
			}
			if len(got.Unevaluated) != 1 || got.Unevaluated[0].Statement != 0 || got.Unevaluated[0].Sid != "conditional" ||
				got.Unevaluated[0].Effect != EffectAllow || !strings.Contains(got.Unevaluated[0].Reason, tt.reason) {
				t.Errorf("Unevaluated = %+v, want statement 0 with reason containing %q", got.Unevaluated, tt.reason)
			}
			deny := Document{Version: Version, Statement: []Statement{
				statement(t, `{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"*"}`),
				statement(t, `{"Effect":"Deny","Action":"execute-api:Invoke","Resource":"*","Condition":`+tt.condition+`}`),
			}}
			got = deny.Decide(chatARN, &testKeys)
			if got.Result != ExplicitDeny {
				t.Errorf("unevaluable Deny: %v, want ExplicitDeny", got.Result)
			}
			if len(got.Unevaluated) != 1 || got.Unevaluated[0].Statement != 1 || got.Unevaluated[0].Effect != EffectDeny {
				t.Errorf("Unevaluated = %+v, want statement 1", got.Unevaluated)
			}
		})
	}
}

func TestConditionsWithoutKeysFailClosed(t *testing.T) {
	d := Document{Version: Version, Statement: []Statement{
		statement(t, `{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}}`),
	}}
	if got := d.Evaluate(chatARN); got != ImplicitDeny {
		t.Fatalf("Evaluate without keys = %v, want ImplicitDeny", got)
	}
	d.Statement = append(d.Statement, statement(t, `{"Effect":"Allow","Action":"*","Resource":"*"}`),
		statement(t, `{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"0.0.0.0/0"}}}`))
	if got := d.Evaluate(chatARN); got != ExplicitDeny {
		t.Fatalf("Evaluate without keys = %v, want ExplicitDeny", got)
	}
}

// TestConditionOnAnotherResourceIsNotReported: a statement that does not
// apply to the call is not evaluated at all.
func TestConditionOnAnotherResourceIsNotReported(t *testing.T) {
	d := Document{Version: Version, Statement: []Statement{
		statement(t, `{"Effect":"Allow","Action":"*","Resource":"`+prodPrefix+`*"}`),
		statement(t, `{"Effect":"Deny","Action":"*","Resource":"`+prodPrefix+`*/admin/*","Condition":{"ArnLike":{"aws:SourceArn":"*"}}}`),
	}}
	if got := d.Decide(chatARN, &testKeys); got.Result != Allow || got.Unevaluated != nil {
		t.Fatalf("Decide = %+v, want Allow with nothing unevaluated", got)
	}
}

func TestConditionDecoding(t *testing.T) {
	for _, tt := range []struct {
		name    string
		json    string
		want    Condition
		wantErr bool
	}{
		{"null is refused", `null`, nil, true},
		{"string is refused", `"x"`, nil, true},
		{"operator block not an object", `{"StringEquals":"x"}`, nil, true},
		{"null value is refused", `{"StringEquals":{"k":null}}`, nil, true},
		{"object value is refused", `{"StringEquals":{"k":{}}}`, nil, true},
		{"nested array is refused", `{"StringEquals":{"k":[["a"]]}}`, nil, true},
		{"scalars of every type", `{"Bool":{"k":true},"NumericEquals":{"n":1.50},"StringEquals":{"s":["a","b"]}}`,
			Condition{"Bool": {"k": {"true"}}, "NumericEquals": {"n": {"1.50"}}, "StringEquals": {"s": {"a", "b"}}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var c Condition
			err := json.Unmarshal([]byte(tt.json), &c)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("decoded %s as %v, want an error", tt.json, c)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(c, tt.want) {
				t.Fatalf("decoded %s as %#v, %v; want %#v", tt.json, c, err, tt.want)
			}
		})
	}
	var d Document
	if err := json.Unmarshal([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":null}]}`), &d); err == nil {
		t.Fatal(`"Condition": null decoded without error`)
	}
}

func TestStatementRoundTripsItsElements(t *testing.T) {
	in := `{"Sid":"s1","NotAction":["s3:*"],"Effect":"Deny","NotResource":["a"],"Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8"]}}}`
	raw, err := json.Marshal(statement(t, in))
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != in {
		t.Fatalf("encoded %s, want %s", raw, in)
	}
	raw, _ = json.Marshal(statement(t, `{"Action":"*","Effect":"Allow","Resource":[]}`))
	if string(raw) != `{"Action":["*"],"Effect":"Allow","Resource":[]}` {
		t.Fatalf("empty Resource encoded as %s", raw)
	}
}

// FuzzDecideConditions decodes policy documents with conditions and checks
// what fail-closed promises: an Allow is granted only by an applying Allow
// statement whose Condition holds while no applying Deny holds or is
// unknown; an unevaluable Deny always denies; knowing the condition keys
// never turns an Allow decided without them into a refusal; and a valid
// document decides the same after a round trip through JSON.
func FuzzDecideConditions(f *testing.F) {
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}]}`), "203.0.113.7", int64(1748779200), false, "curl/8")
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":"s3:*","NotResource":"*/admin/*","Condition":{"ForAnyValue:StringLike":{"aws:UserAgent":"*"}}}]}`), "::1", int64(0), true, "")
	f.Fuzz(func(t *testing.T, data []byte, ip string, epoch int64, tls bool, ua string) {
		var d Document
		if err := json.Unmarshal(data, &d); err != nil {
			return
		}
		keys := &ConditionKeys{SecureTransport: tls, UserAgent: ua, CurrentTime: time.Unix(epoch, 0)}
		keys.SourceIP, _ = netip.ParseAddr(ip)
		got := d.Decide(chatARN, keys)

		granted, denied := false, false
		for _, st := range d.Statement {
			if !st.appliesTo(chatARN) {
				continue
			}
			s, _ := st.Condition.evaluate(keys)
			switch {
			case st.Effect == EffectAllow && s == conditionTrue:
				granted = true
			case st.Effect == EffectDeny && s != conditionFalse:
				denied = true
			}
		}
		want := ImplicitDeny
		if denied {
			want = ExplicitDeny
		} else if granted {
			want = Allow
		}
		if got.Result != want {
			t.Fatalf("Decide = %v, want %v", got.Result, want)
		}
		for _, u := range got.Unevaluated {
			if u.Reason == "" {
				t.Fatalf("statement %d unevaluated without a reason", u.Statement)
			}
			if u.Effect == EffectDeny && got.Result != ExplicitDeny {
				t.Fatalf("unevaluable Deny %d did not deny", u.Statement)
			}
		}
		if d.Decide(chatARN, nil).Result == Allow && got.Result != Allow {
			t.Fatalf("knowing the keys refused what knowing none allowed: %+v", got)
		}
		if d.Validate() != nil {
			return
		}
		raw, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("valid document does not encode: %v", err)
		}
		var again Document
		if err := json.Unmarshal(raw, &again); err != nil {
			t.Fatalf("re-encoded %s does not decode: %v", raw, err)
		}
		if again.Decide(chatARN, keys).Result != got.Result {
			t.Fatalf("round trip through %s changed the decision", raw)
		}
	})
}
