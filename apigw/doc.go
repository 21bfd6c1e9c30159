// Package apigw speaks API Gateway's authorizer wire formats: REST TOKEN and
// REQUEST events, HTTP API payload 1.0 and 2.0 events in; IAM policy or
// simple responses out, with exactly the error values API Gateway reacts to
// ("Unauthorized" → 401, anything else → 500). The decision itself is
// authz's: this package only translates, and never decides on its own.
package apigw
