// Package console is the operator's admin console and admin API, served by
// `aigate serve` beside the gateway under /console/: keys (list, show with
// history, create, rotate, revoke), tenants, usage with server-drawn SVG
// charts, and the audit log, over the store interfaces (so it administers a
// DynamoDB deployment as well as the embedded SQLite one).
//
// Only admin keys (record.RoleAdmin) get in: by "Authorization: Bearer" on
// the JSON API, or by the console's sign-in cookie with a per-session CSRF
// token on every state-changing call. It must never be reachable through the
// gateway's routes or the authorizer, never log a credential, and never load
// anything from another origin (its Content-Security-Policy forbids it).
package console
