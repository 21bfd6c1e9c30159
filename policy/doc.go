// Package policy owns the IAM policy documents that a Lambda authorizer
// returns, their evaluation against a methodArn exactly as API Gateway does
// it, the IAM wildcard matcher, and the one methodArn/routeArn parser of the
// project.
//
// It must never do I/O, log, hold global mutable state or import the AWS SDK
// or aws-lambda-go (its tests do, to check that AWS types read what it
// writes): the Lambda authorizer and the local gateway both depend on
// it, and they must reach the same decision for the same policy.
//
// # Statements
//
// Action or NotAction, Resource or NotResource, and Condition are evaluated
// as IAM does. "Resource": [] matches nothing.
//
// # Conditions
//
// The evaluator never grants more than the policy says. It evaluates these
// condition operators exactly as IAM does, each also with the IfExists
// suffix (except Null):
//
//   - StringEquals, StringNotEquals, StringEqualsIgnoreCase,
//     StringNotEqualsIgnoreCase, StringLike, StringNotLike
//   - NumericEquals, NumericNotEquals, NumericLessThan(Equals),
//     NumericGreaterThan(Equals) — on aws:EpochTime
//   - DateEquals, DateNotEquals, DateLessThan(Equals), DateGreaterThan(Equals)
//     (ISO 8601 down to the day, or epoch seconds)
//   - Bool, IpAddress, NotIpAddress (CIDR or single address), Null
//
// on these global condition keys (names case-insensitive): aws:SourceIp,
// aws:CurrentTime, aws:EpochTime, aws:SecureTransport, aws:UserAgent,
// aws:Referer, aws:SourceVpc and aws:SourceVpce (ConditionKeys). Values are
// ORed, negated operators are NORed, keys and operators are ANDed; a missing
// key fails a positive operator and satisfies a negated or IfExists one.
//
// Anything else — another operator or key, the ForAllValues:/ForAnyValue:
// set operators, a policy variable (${…}), a value that does not parse as
// the operator's type, an operator on a key of another type, an empty
// Condition or operator block — makes the whole Condition unknown, and the
// statement is decided fail-closed: an Allow does not match, a Deny does.
// Decide reports such statements so that the caller can log them.
package policy
