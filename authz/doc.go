// Package authz decides who a caller is and what they may do: credential →
// principal → decision (Allow with a policy scope and a context, Deny, or
// Unauthorized). It is pure: stores and token verifiers come in through small
// interfaces, and it never imports net/http or the AWS SDK, so the Lambda and
// the local gateway share every line of it.
package authz
