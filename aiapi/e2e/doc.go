// Package e2e holds the end-to-end tests of the AI API: the official OpenAI
// Go SDK as the client, over HTTP on 127.0.0.1, against the local gateway
// running the real authorizer over a real SQLite store, in front of the AI
// API and its providers (the echo model, an OpenAI-compatible stand-in, a
// Bedrock stand-in). It has no code of its own; it is apart from package
// aiapi so that aiapi's unit tests do not depend on the gateway.
package e2e
