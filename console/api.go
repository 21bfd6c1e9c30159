package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
)

// api wraps a JSON endpoint: authentication (401/403), CSRF on
// state-changing calls by cookie (403), and error mapping.
func (c *Console) api(h func(http.ResponseWriter, *http.Request, *admin) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, err := c.authenticate(r)
		if err == nil && stateChanging(r.Method) {
			err = checkCSRF(r, a)
		}
		if err == nil {
			err = h(w, r, a)
		}
		if err != nil {
			c.fail(w, r, err)
		}
	}
}

// fail answers an error with its status; details of internal failures go
// to the log, not to the client.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := statusOf(err)
	if status == http.StatusInternalServerError {
		c.Logger.ErrorContext(r.Context(), "console: request failed", "path", r.URL.Path, "error", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="aigate console"`)
	}
	writeError(w, status, msg)
}

func statusOf(err error) (int, string) {
	switch {
	case errors.Is(err, errUnauthorized):
		return http.StatusUnauthorized, "unauthorized"
	case errors.Is(err, errForbidden):
		return http.StatusForbidden, "forbidden: not an admin key"
	case errors.Is(err, errCSRF):
		return http.StatusForbidden, "forbidden: missing or wrong CSRF token"
	case errors.Is(err, errNoTenant):
		return http.StatusNotFound, "no such tenant"
	case errors.Is(err, record.ErrNotFound):
		return http.StatusNotFound, "no such key"
	case errors.Is(err, keys.ErrInvalid), errors.Is(err, errBadRequest):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, record.ErrConflict), errors.Is(err, record.ErrExists):
		return http.StatusConflict, "it changed meanwhile: try again"
	}
	return http.StatusInternalServerError, "internal error"
}

var errBadRequest = errors.New("console: bad request")

func badRequest(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, a...))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// KeyView is a key as the API and pages show it (keys.View), with when it
// was last used.
type KeyView struct {
	keys.View
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

func viewOf(k *record.Key, now time.Time, lastUsed time.Time) KeyView {
	return KeyView{View: keys.ViewOf(k, now), LastUsedAt: lastUsed}
}

// keyViews lists every key with when it was last used (from the ledger).
func (c *Console) keyViews(ctx context.Context, tenant string) ([]KeyView, error) {
	list, err := c.Store.ListKeys(ctx, store.ListOptions{Tenant: tenant})
	if err != nil {
		return nil, err
	}
	last, err := c.lastUsed(ctx)
	if err != nil {
		return nil, err
	}
	now := c.Now()
	views := make([]KeyView, len(list))
	for i, k := range list {
		views[i] = viewOf(k, now, last[record.KeyPrincipalID(k.ID)])
	}
	return views, nil
}

// manager runs key changes in the admin's name.
func (c *Console) manager(a *admin) *keys.Manager {
	return &keys.Manager{Store: c.Store, Hasher: c.Hasher, Actor: a.actor(), Now: c.Now}
}

func (c *Console) apiListKeys(w http.ResponseWriter, r *http.Request, a *admin) error {
	views, err := c.keyViews(r.Context(), r.URL.Query().Get("tenant"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": views})
	return nil
}

func (c *Console) apiShowKey(w http.ResponseWriter, r *http.Request, a *admin) error {
	k, err := c.Store.GetKey(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	history, err := c.Store.KeyHistory(r.Context(), k.ID)
	if err != nil {
		return err
	}
	if history == nil {
		history = []record.AuditEvent{}
	}
	last, err := c.lastUsed(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		KeyView
		History []record.AuditEvent `json:"history"`
	}{viewOf(k, c.Now(), last[record.KeyPrincipalID(k.ID)]), history})
	return nil
}

// CreateRequest is the body of POST /console/api/keys.
type CreateRequest struct {
	Name   string        `json:"name"`
	Tenant string        `json:"tenant"`
	Models []string      `json:"models"`
	Limits record.Limits `json:"limits"`
	// ExpiresAt is an RFC 3339 time; empty: never.
	ExpiresAt time.Time   `json:"expires_at,omitzero"`
	Role      record.Role `json:"role,omitempty"`
}

func (c *Console) apiCreateKey(w http.ResponseWriter, r *http.Request, a *admin) error {
	var req CreateRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return badRequest("body: %v", err)
	}
	issued, err := c.create(r.Context(), a, keys.Spec{Name: req.Name, Tenant: req.Tenant, Models: req.Models,
		Limits: req.Limits, ExpiresAt: req.ExpiresAt, Role: req.Role})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, issuedView(issued, c.Now()))
	return nil
}

func (c *Console) create(ctx context.Context, a *admin, spec keys.Spec) (*keys.Issued, error) {
	issued, err := c.manager(a).Create(ctx, spec)
	if err != nil {
		return nil, err
	}
	c.Logger.InfoContext(ctx, "console: key created", "admin_key_id", a.key.ID, "key_id", issued.Key.ID, "role", string(issued.Key.Role))
	return issued, nil
}

func issuedView(is *keys.Issued, now time.Time) any {
	return struct {
		KeyView
		Key string `json:"key"`
	}{viewOf(is.Key, now, time.Time{}), is.Secret}
}

func (c *Console) apiRotateKey(w http.ResponseWriter, r *http.Request, a *admin) error {
	var req struct {
		Grace string `json:"grace"` // a Go duration; empty: none
	}
	if r.ContentLength != 0 {
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return badRequest("body: %v", err)
		}
	}
	grace, err := parseGrace(req.Grace)
	if err != nil {
		return err
	}
	issued, err := c.rotate(r.Context(), a, r.PathValue("id"), grace)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, issuedView(issued, c.Now()))
	return nil
}

func parseGrace(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, badRequest("grace %q is not a duration like 90m or 24h", v)
	}
	return d, nil
}

func (c *Console) rotate(ctx context.Context, a *admin, id string, grace time.Duration) (*keys.Issued, error) {
	issued, err := c.manager(a).Rotate(ctx, id, grace)
	if err != nil {
		return nil, err
	}
	c.Logger.InfoContext(ctx, "console: key rotated", "admin_key_id", a.key.ID, "key_id", id)
	return issued, nil
}

func (c *Console) apiRevokeKey(w http.ResponseWriter, r *http.Request, a *admin) error {
	id := r.PathValue("id")
	changed, err := c.revoke(r.Context(), a, id)
	if err != nil {
		return err
	}
	k, err := c.Store.GetKey(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		KeyView
		Changed bool `json:"changed"`
	}{viewOf(k, c.Now(), time.Time{}), changed})
	return nil
}

func (c *Console) revoke(ctx context.Context, a *admin, id string) (bool, error) {
	changed, err := c.manager(a).Revoke(ctx, id)
	if err != nil {
		return false, err
	}
	c.Logger.InfoContext(ctx, "console: key revoked", "admin_key_id", a.key.ID, "key_id", id, "changed", changed)
	return changed, nil
}

// AuditEntry is one event of the audit log, with the key's name.
type AuditEntry struct {
	record.AuditEvent
	KeyName string `json:"key_name"`
}

// audit merges every key's history, newest first. It reads each key's
// history: the stores keep history per key, and consoles list few keys.
func (c *Console) audit(ctx context.Context, keyID string) ([]AuditEntry, error) {
	list, err := c.Store.ListKeys(ctx, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []AuditEntry
	for _, k := range list {
		if keyID != "" && k.ID != keyID {
			continue
		}
		evs, err := c.Store.KeyHistory(ctx, k.ID)
		if err != nil {
			return nil, err
		}
		for _, ev := range evs {
			out = append(out, AuditEntry{AuditEvent: ev, KeyName: k.Name})
		}
	}
	slices.SortStableFunc(out, func(a, b AuditEntry) int { return b.At.Compare(a.At) })
	return out, nil
}

func (c *Console) apiAudit(w http.ResponseWriter, r *http.Request, a *admin) error {
	evs, err := c.audit(r.Context(), r.URL.Query().Get("key"))
	if err != nil {
		return err
	}
	if evs == nil {
		evs = []AuditEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": evs})
	return nil
}

func (c *Console) apiUsage(w http.ResponseWriter, r *http.Request, a *admin) error {
	f, err := parseUsageFilter(r.URL.Query(), c.Now())
	if err != nil {
		return err
	}
	rep, err := c.usage(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// apiSignIn exchanges an admin key for the session cookie and returns the
// session's CSRF token, for scripts that drive the API like the console.
func (c *Console) apiSignIn(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Key string `json:"key"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	if err := dec.Decode(&req); err != nil {
		c.fail(w, r, badRequest("body: %v", err))
		return
	}
	key, err := c.verifyAdminKey(r.Context(), req.Key)
	if err != nil {
		c.Logger.InfoContext(r.Context(), "console: sign-in refused")
		c.fail(w, r, err)
		return
	}
	ss := c.startSession(w, r, key)
	writeJSON(w, http.StatusOK, map[string]any{"csrf_token": ss.csrf, "expires_at": ss.expires, "admin_key_id": key.ID})
}

func (c *Console) apiSignOut(w http.ResponseWriter, r *http.Request, a *admin) error {
	c.endSession(w, r, a)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
