// Package gateway is aigate's local API Gateway: it serves APIs described the
// way API Gateway describes them (stages, routes, Lambda authorizers with
// identity sources, validation expressions and a result cache, and MOCK,
// HTTP_PROXY, AWS_PROXY and in-process integrations) and answers clients
// exactly as API Gateway does, down to the status codes, bodies and
// x-amzn-ErrorType headers of its refusals.
//
// It owns routing, identity-source checks, the authorizer result cache, the
// authorizer events and the interpretation of their answers. It never
// decides who may do what: the authorizer function does, and the policy
// package (the project's one policy evaluator and ARN formatter) evaluates
// its policies. It never logs a credential.
//
// Where AWS behaviour is undocumented or unrecorded, the choice made is
// stated next to the code that makes it.
package gateway
