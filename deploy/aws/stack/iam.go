package stack

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// PolicyDocument is an IAM policy, in the shape the tests read back.
type PolicyDocument struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one IAM statement. Action and Resource are always lists.
type Statement struct {
	Sid       string            `json:"Sid,omitempty"`
	Effect    string            `json:"Effect"`
	Principal map[string]string `json:"Principal,omitempty"`
	Action    []string          `json:"Action"`
	Resource  []string          `json:"Resource,omitempty"`
}

// grant is a statement whose resources are outputs (table ARNs, log group
// ARNs) with an optional suffix each.
type grant struct {
	sid       string
	actions   []string
	resources []pulumi.StringInput
}

// policyJSON renders grants as an Allow policy once their resources are known.
func policyJSON(grants []grant) pulumi.StringOutput {
	var all []interface{}
	for _, g := range grants {
		for _, r := range g.resources {
			all = append(all, r)
		}
	}
	return pulumi.All(all...).ApplyT(func(vals []interface{}) (string, error) {
		doc := PolicyDocument{Version: "2012-10-17"}
		i := 0
		for _, g := range grants {
			st := Statement{Sid: g.sid, Effect: "Allow", Action: g.actions}
			for range g.resources {
				s := vals[i].(string)
				i++
				// A resource that resolved to "*" or "" would grant every
				// resource: refuse rather than deploy it.
				if s == "" || s == "*" {
					return "", fmt.Errorf("stack: policy statement %s would cover every resource (%q)", g.sid, s)
				}
				st.Resource = append(st.Resource, s)
			}
			doc.Statement = append(doc.Statement, st)
		}
		b, err := json.Marshal(doc)
		return string(b), err
	}).(pulumi.StringOutput)
}

// assumeRolePolicy lets service (lambda.amazonaws.com,
// apigateway.amazonaws.com) assume a role, and nobody else.
func assumeRolePolicy(service string) string {
	b, _ := json.Marshal(PolicyDocument{Version: "2012-10-17", Statement: []Statement{{
		Effect:    "Allow",
		Principal: map[string]string{"Service": service},
		Action:    []string{"sts:AssumeRole"},
	}}})
	return string(b)
}

// suffixed appends s to an ARN output ("/index/by_expiry", ":*").
func suffixed(arn pulumi.StringOutput, s string) pulumi.StringInput {
	return arn.ApplyT(func(a string) string { return a + s }).(pulumi.StringOutput)
}
