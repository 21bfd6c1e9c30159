// Package policy owns the IAM policy documents that a Lambda authorizer
// returns, their evaluation against a methodArn exactly as API Gateway does
// it, the IAM wildcard matcher, and the one methodArn/routeArn parser of the
// project.
//
// It must never do I/O, log, hold global mutable state or import the AWS SDK
// or aws-lambda-go (its tests do, to check that AWS types read what it
// writes): the Lambda authorizer and the local gateway both depend on
// it, and they must reach the same decision for the same policy.
package policy
