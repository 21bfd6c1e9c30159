package server

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aigate/aigate/apigw"
)

// authorizerEvents are the four events the gateway sends an authorizer,
// built from the fuzzer's strings.
func authorizerEvents(a, b, c string, nilHeaders bool) []any {
	headers := map[string]string{"Authorization": a, "x-api-key": b, c: a}
	if nilHeaders {
		headers = nil
	}
	arn := "arn:aws:execute-api:us-east-1:123456789012:aigate/local/POST/" + c
	return []any{
		events.APIGatewayCustomAuthorizerRequest{Type: "TOKEN", AuthorizationToken: a, MethodArn: arn},
		events.APIGatewayCustomAuthorizerRequestTypeRequest{Type: "REQUEST", MethodArn: arn, Resource: "/v1/{proxy+}", Path: "/v1/" + c,
			HTTPMethod: "POST", Headers: headers, MultiValueHeaders: map[string][]string{"Authorization": {a, b}}},
		events.APIGatewayV2CustomAuthorizerV1Request{Version: "1.0", Type: "REQUEST", MethodArn: arn, IdentitySource: a + "," + b,
			AuthorizationToken: a + "," + b, Headers: headers},
		events.APIGatewayV2CustomAuthorizerV2Request{Version: "2.0", Type: "REQUEST", RouteArn: arn, RouteKey: "POST /" + c,
			IdentitySource: []string{a, b}, Headers: headers},
		events.APIGatewayV2CustomAuthorizerV2Request{Version: "2.0", Type: "REQUEST", RouteArn: arn, RouteKey: "$default"},
		// Refused by Classify: the JSON path answers these.
		events.APIGatewayCustomAuthorizerRequest{Type: "TOKEN", AuthorizationToken: a},
		events.APIGatewayV2CustomAuthorizerV2Request{Version: "2.0", Type: "REQUEST"},
		events.APIGatewayCustomAuthorizerRequest{Type: c, AuthorizationToken: a, MethodArn: arn},
	}
}

// FuzzEventAuthorizerReadsWhatTheJSONSays: the event the built-in
// authorizer gets in process is the one apigw.ParseEvent reads from the
// event's JSON, whatever the strings; where it cannot be had without the
// encoding (invalid UTF-8, an event ParseEvent refuses), the JSON path is
// taken.
func FuzzEventAuthorizerReadsWhatTheJSONSays(f *testing.F) {
	f.Add("Bearer aig_x", "aig_y", "chat/completions", false)
	f.Add("", "", "", true)
	f.Add("Bearer <&>\u2028", "\xff", "x", false)
	f.Add("a", "b", "TOKEN", false)
	f.Fuzz(func(t *testing.T, a, b, c string, nilHeaders bool) {
		for _, event := range authorizerEvents(a, b, c, nilHeaders) {
			payload, err := json.Marshal(event)
			if err != nil {
				t.Fatal(err)
			}
			want, wantErr := apigw.ParseEvent(payload)
			got, ok := apigwEvent(event)
			if !ok {
				if wantErr == nil && utf8Clean(a, b, c) {
					t.Errorf("%T %s: no event in process, though ParseEvent reads one", event, payload)
				}
				continue
			}
			if wantErr != nil {
				t.Fatalf("%T %s: an event in process, though ParseEvent says %v", event, payload, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%T %s:\nin process %+v\nParseEvent %+v", event, payload, got, want)
			}
		}
	})
}

func TestEventAuthorizerReadsWhatTheJSONSays(t *testing.T) {
	for _, nilHeaders := range []bool{false, true} {
		for _, event := range authorizerEvents("Bearer aig_x", "aig_y", "chat/completions", nilHeaders) {
			payload, _ := json.Marshal(event)
			want, wantErr := apigw.ParseEvent(payload)
			got, ok := apigwEvent(event)
			if ok != (wantErr == nil) || ok && !reflect.DeepEqual(got, want) {
				t.Errorf("%T %s: in process %+v (%v), ParseEvent %+v (%v)", event, payload, got, ok, want, wantErr)
			}
		}
	}
	if _, ok := apigwEvent(map[string]string{"type": "TOKEN"}); ok {
		t.Error("an event of another type was read in process")
	}
}

func utf8Clean(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}
