package policy_test

import (
	"encoding/json"
	"fmt"

	"github.com/aigate/aigate/policy"
)

// An authorizer answers with a policy that covers every route the principal
// may call on the stage, not only the incoming methodArn: API Gateway caches
// the policy and evaluates it again for each later route.
func Example() {
	arn, err := policy.ParseMethodARN("arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/v1/chat/completions")
	if err != nil {
		fmt.Println(err)
		return
	}
	doc := policy.NewDocument().
		Allow(arn.StagePrefix() + "*/v1/*").
		Deny(arn.StagePrefix() + "*/v1/admin/*").
		Document()

	for _, route := range []string{"POST/v1/chat/completions", "GET/v1/models", "DELETE/v1/admin/keys", "GET/"} {
		fmt.Println(route, doc.Evaluate(arn.StagePrefix()+route))
	}
	out, _ := json.Marshal(doc)
	fmt.Println(string(out))
	// Output:
	// POST/v1/chat/completions Allow
	// GET/v1/models Allow
	// DELETE/v1/admin/keys ExplicitDeny
	// GET/ ImplicitDeny
	// {"Version":"2012-10-17","Statement":[{"Action":["execute-api:Invoke"],"Effect":"Allow","Resource":["arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/*/v1/*"]},{"Action":["execute-api:Invoke"],"Effect":"Deny","Resource":["arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/*/v1/admin/*"]}]}
}

// The local gateway reads a Lambda's answer, which may use a single string
// for Action and Resource, validates it as API Gateway would, and evaluates
// it for the request.
func ExampleDocument_Evaluate() {
	answer := []byte(`{
		"Version": "2012-10-17",
		"Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow",
		               "Resource": "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/*"}]}`)
	var doc policy.Document
	if err := json.Unmarshal(answer, &doc); err != nil {
		fmt.Println("500:", err)
		return
	}
	if err := doc.Validate(); err != nil {
		fmt.Println("500:", err)
		return
	}
	fmt.Println(doc.Evaluate("arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/v1/models"))
	fmt.Println(doc.Evaluate("arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/GET/v1/models"))
	// Output:
	// Allow
	// ImplicitDeny
}

func ExampleMatch() {
	fmt.Println(policy.Match("claude-*", "claude-3-5-sonnet"))
	fmt.Println(policy.Match("gpt-4o?", "gpt-4o"))
	fmt.Println(policy.Match("prod/*", "prod/GET/v1/chat"))
	// Output:
	// true
	// false
	// true
}
