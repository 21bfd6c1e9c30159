// Package aiapi is aigate's OpenAI-compatible AI API: the integration behind
// the authorizer, which enforces what the authorizer decided. It owns the
// endpoints (POST /v1/chat/completions, plain and streamed; POST
// /v1/embeddings; GET /v1/models and /v1/models/{id}), the routing of model
// names to providers (package provider's contract), and the enforcement of
// the caller's model globs, rate limits and token budgets through quota.
// It imports no provider and reads no environment: its assembler hands it
// a provider.Registry (builtin.Registry: openai, anthropic, bedrock, echo)
// and a LookupSecret for upstream keys.
//
// It never authenticates: who the caller is and what it may do come from the
// authorizer's context (WithAuthorizerContext), and a request without one is
// refused (500). The only credential check it makes is to read an API key's
// status back from the store, at most Config.KeyStatusTTL (1 s) stale, so
// that a revoked key stops here even while API Gateway's authorizer cache
// still allows it (401 invalid_api_key). It never forwards the caller's
// headers upstream, and never shows the caller an upstream's address or key.
//
// # Enforcement
//
// A model the caller's globs (policy.Match) do not allow, or that no route
// serves, is 404 model_not_found. Before calling the model the server
// reserves an upper bound of the request's tokens with one atomic
// conditional update of the store (quota.Ledger.Reserve): the request body's
// UTF-8 bytes (a byte-level BPE tokenizer makes at most one token per byte)
// plus n times the output cap (max_completion_tokens or max_tokens, or
// Config.DefaultMaxTokens, which is then sent upstream so that the bound
// holds). A request over a rate (requests or tokens per minute) is 429
// rate_limit_exceeded, over a budget (tokens per UTC day or month) 429
// insufficient_quota, with Retry-After; every answer after the reservation
// carries OpenAI's x-ratelimit-* headers (none for an unlimited dimension).
// After the call the reservation is settled to the upstream's usage — before
// the 200 is written, for non-streamed answers, so every answer a caller got
// is in the ledger; for streams, to what was produced when the stream ends
// or the caller leaves. Where the upstream reported no usage, 4 bytes of
// text count as a token (a caller that leaves before a non-streamed answer
// is charged its prompt that way: the upstream has read it). A failed
// upstream call releases the reservation: 502 upstream_error, 504
// upstream_timeout, or 400 when the upstream refused the request as
// invalid. Reservations left behind by a dead process are released by Run
// (at start, then every Config.ExpireInterval) once Config.ReservationTTL
// has passed. The bound does not cover images given by URL (their tokens
// are not in the body's bytes): their real usage is settled, and may take a
// window past its limit by that much.
//
// # The echo model
//
// With no configuration the model "echo" is served by the echo test model
// of the registry (package echo, which documents its rules): it echoes the last user
// message, counts tokens by a fixed rule, streams word by word, and is slowed
// down by a "delay_ms" request field. It is a test model, not a language
// model. Config.WithOpenAI (OPENAI_BASE_URL or OPENAI_API_KEY, read by the commands) routes
// every other model to an OpenAI-compatible upstream.
//
// # Streaming on AWS
//
// The Lambda (cmd/aiapi, package lambdaproxy) streams REST API answers with
// Lambda response streaming, through aws-lambda-go v1.55.1's
// events.APIGatewayProxyStreamingResponse: the status and headers go first,
// then each server-sent event as it is produced. For this the REST API's
// integration must invoke the function's response-streaming-invocations URI
// (arn:aws:apigateway:{region}:lambda:path/2021-11-15/functions/{arn}/response-streaming-invocations)
// with responseTransferMode STREAM. Limitations:
//
//   - A REST integration without streaming (the plain AWS_PROXY
//     invocations URI) cannot read a streamed answer: set
//     AIGATE_RESPONSE_STREAMING=off, and every answer, a stream included,
//     is buffered and returned whole when it ends. pulumi-aws v6.83.4's
//     apigateway.Integration has no responseTransferMode field, so a
//     deployment made with it must either set the mode another way or turn
//     streaming off.
//   - HTTP APIs (payload 2.0) have no response streaming: their answers are
//     always buffered.
//   - Buffered answers are bounded by API Gateway's 10 MB payload and 29 s
//     integration timeout (REST) or 30 s (HTTP API); streamed ones by the
//     function's timeout (up to 15 minutes). Keep Config.UpstreamTimeout
//     below the function's timeout.
//   - Lambda does not tell a function that the client went away: a streamed
//     answer whose client disconnected runs to its end and is settled in
//     full.
package aiapi
