// Package messages is Anthropic's Messages API as aigate serves it to
// Claude Code and the Anthropic SDKs: it reads /v1/messages and
// /v1/messages/count_tokens bodies once and strictly (aiapi/ijson),
// translates them to chat completions for providers that speak only that,
// and writes the answers, stream events, errors and headers those clients
// expect. It also reads what an upstream speaking Messages answers (the
// answer and event types, UsageOf, StreamMeter, RenameModel): one reader
// for the handlers that forward it and the providers that translate it.
//
// It holds pure functions only: no HTTP server, no limits, no metering
// decisions (package aiapi's handlers own those), and it never sees a
// caller's credential.
package messages
