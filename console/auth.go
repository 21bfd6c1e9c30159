package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aigate/aigate/apikey"
	"github.com/aigate/aigate/record"
)

// cookieName is the session cookie. It is scoped to /console/ so that the
// gateway's routes never receive it.
const cookieName = "aigate_console"

// csrfHeader carries the session's CSRF token on state-changing API calls
// made with the cookie; forms carry it in the "csrf" field.
const csrfHeader = "X-CSRF-Token"

var (
	// errUnauthorized is every failure to authenticate, whatever the cause
	// (malformed, unknown, wrong secret, revoked, expired, a JWT, a forged
	// or stale cookie): the answer never says whether a key exists.
	errUnauthorized = errors.New("console: unauthorized")
	// errForbidden is a valid key without the admin role.
	errForbidden = errors.New("console: forbidden")
	// errCSRF is a state-changing call by cookie without the session's token.
	errCSRF = errors.New("console: missing or wrong CSRF token")
)

// admin is the authenticated administrator of a request.
type admin struct {
	key     *record.Key
	session *session // nil when authenticated by bearer key
}

// actor names the admin in audit events, so the history says who did it.
func (a *admin) actor() string { return "console " + record.KeyPrincipalID(a.key.ID) }

type session struct {
	id, csrf   string
	keyID      string
	secretHash []byte // the admin key's hash at sign-in: a rotation ends the session
	expires    time.Time
}

// sessions are held in memory: a restart signs everyone out, which is the
// safe direction.
type sessions struct {
	mu sync.Mutex
	m  map[string]*session
}

func newSessions() *sessions { return &sessions{m: map[string]*session{}} }

func (s *sessions) add(keyID string, hash []byte, expires, now time.Time) *session {
	ss := &session{id: rand.Text() + rand.Text(), csrf: rand.Text() + rand.Text(), keyID: keyID,
		secretHash: append([]byte(nil), hash...), expires: expires}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, old := range s.m {
		if !now.Before(old.expires) {
			delete(s.m, id)
		}
	}
	s.m[ss.id] = ss
	return ss
}

func (s *sessions) get(id string, now time.Time) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.m[id]
	if ss == nil {
		return nil
	}
	if !now.Before(ss.expires) {
		delete(s.m, id)
		return nil
	}
	return ss
}

func (s *sessions) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

// verifyAdminKey authenticates a full admin key. The checksum is checked
// before any store read; every failure before the role check is the same
// errUnauthorized.
func (c *Console) verifyAdminKey(ctx context.Context, credential string) (*record.Key, error) {
	k, err := apikey.Parse(credential)
	if err != nil {
		return nil, errUnauthorized
	}
	key, err := c.Store.GetKey(ctx, k.ID)
	if errors.Is(err, record.ErrNotFound) {
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("console: look up key: %w", err)
	}
	now := c.Now()
	matched := c.Hasher.Verify(k, key.SecretHash) ||
		(len(key.PreviousSecretHash) > 0 && now.Before(key.PreviousExpiresAt) && c.Hasher.Verify(k, key.PreviousSecretHash))
	if !matched || key.Status != record.StatusActive || key.Expired(now) {
		return nil, errUnauthorized
	}
	if key.Role != record.RoleAdmin {
		return nil, errForbidden
	}
	return key, nil
}

// authenticate finds the request's admin: a bearer key wins over the
// cookie. A session is checked against its key on every request, so that
// revoking, expiring, demoting or rotating the admin key ends it.
func (c *Console) authenticate(r *http.Request) (*admin, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, cred, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return nil, errUnauthorized
		}
		key, err := c.verifyAdminKey(r.Context(), strings.TrimSpace(cred))
		if err != nil {
			return nil, err
		}
		return &admin{key: key}, nil
	}
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return nil, errUnauthorized
	}
	now := c.Now()
	ss := c.sessions.get(ck.Value, now)
	if ss == nil {
		return nil, errUnauthorized
	}
	key, err := c.Store.GetKey(r.Context(), ss.keyID)
	if errors.Is(err, record.ErrNotFound) {
		c.sessions.remove(ss.id)
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("console: look up key: %w", err)
	}
	sameSecret := subtle.ConstantTimeCompare(ss.secretHash, key.SecretHash) == 1 ||
		(now.Before(key.PreviousExpiresAt) && subtle.ConstantTimeCompare(ss.secretHash, key.PreviousSecretHash) == 1)
	if !sameSecret || key.Status != record.StatusActive || key.Expired(now) || key.Role != record.RoleAdmin {
		c.sessions.remove(ss.id)
		return nil, errUnauthorized
	}
	return &admin{key: key, session: ss}, nil
}

// checkCSRF guards a state-changing call made with the cookie: the
// session's token must come back (header or form field), compared in
// constant time, and a browser's Origin, when sent, must be this host.
// Calls by bearer key need neither: a browser never adds that header on
// its own.
func checkCSRF(r *http.Request, a *admin) error {
	if a.session == nil {
		return nil
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return errCSRF
		}
	}
	tok := r.Header.Get(csrfHeader)
	if tok == "" {
		tok = r.PostFormValue("csrf")
	}
	if tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(a.session.csrf)) != 1 {
		return errCSRF
	}
	return nil
}

// startSession signs in key and sets the cookie: HttpOnly, SameSite=Strict,
// Secure under TLS, scoped to /console/, expiring with the session.
func (c *Console) startSession(w http.ResponseWriter, r *http.Request, key *record.Key) *session {
	now := c.Now()
	expires := now.Add(c.SessionTTL)
	if !key.ExpiresAt.IsZero() && key.ExpiresAt.Before(expires) {
		expires = key.ExpiresAt
	}
	ss := c.sessions.add(key.ID, key.SecretHash, expires, now)
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: ss.id, Path: "/console/",
		Expires: expires, MaxAge: int(expires.Sub(now).Seconds()),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	c.Logger.InfoContext(r.Context(), "console: signed in", "admin_key_id", key.ID)
	return ss
}

func (c *Console) endSession(w http.ResponseWriter, r *http.Request, a *admin) {
	if a.session != nil {
		c.sessions.remove(a.session.id)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/console/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

// stateChanging says whether a method changes state (and so needs CSRF).
func stateChanging(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}
