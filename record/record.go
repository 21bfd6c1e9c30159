// Package record is what aigate persists about its callers (API keys with
// their audit events, principals with their limits, principal ids) and the
// errors every store returns. It is a leaf: it imports nothing of aigate, so
// that authz, the stores, quota and the AI API can share it without cycles.
package record

import "errors"

// Errors returned (wrapped) by every store; test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrConflict = errors.New("concurrent update")
)
