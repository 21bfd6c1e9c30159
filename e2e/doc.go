// Package e2e holds aigate's end-to-end tests: the built binaries (aigate,
// the authorizer bootstrap, the AI API) run as a user runs them, over real
// HTTP on 127.0.0.1, with the real Lambda runtime emulator where a Lambda is
// involved. It has no non-test code besides its test helpers.
package e2e
