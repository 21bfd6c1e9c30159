package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
)

var _ store.Store = (*Store)(nil)

// keyColumns lists the keys table's columns in the order scanKey reads and
// keyArgs binds them.
const keyColumns = `id, name, tenant, models, rpm, tpm, tokens_per_day, tokens_per_month,
	status, secret_hash, previous_secret_hash, previous_expires_at, usage_identifier_key,
	created_at, updated_at, expires_at, revoked_at, version, role, usd_per_day, usd_per_month`

// CreateKey stores k, which must be at version 1, and its creation event ev
// in one transaction, then changes KeysGeneration. ErrExists if the id is
// taken.
func (s *Store) CreateKey(ctx context.Context, k *record.Key, ev record.AuditEvent) error {
	if k.ID == "" {
		return errors.New("sqlite: create key: empty id")
	}
	if k.Version != 1 {
		return fmt.Errorf("sqlite: create key %q: version %d, want 1", k.ID, k.Version)
	}
	args, err := keyArgs(k)
	if err != nil {
		return fmt.Errorf("sqlite: create key %q: %w", k.ID, err)
	}
	evArgs, err := eventArgs(k.ID, ev)
	if err != nil {
		return fmt.Errorf("sqlite: create key %q: %w", k.ID, err)
	}
	op := fmt.Sprintf("create key %q", k.ID)
	return s.keysChanged(op, s.write(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.insertKey).ExecContext(ctx, args...)
		if err != nil {
			return fmt.Errorf("sqlite: create key %q: %w", k.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: create key %q: %w", k.ID, err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: create key %q: %w", k.ID, record.ErrExists)
		}
		if _, err := tx.StmtContext(ctx, s.insertEv).ExecContext(ctx, evArgs...); err != nil {
			return fmt.Errorf("sqlite: create key %q: audit: %w", k.ID, err)
		}
		return nil
	}))
}

// UpdateKey replaces the key stored at version k.Version-1 with k and appends
// ev, in one transaction, then changes KeysGeneration (so that every process
// caching the key re-reads it). ErrNotFound if there is no such key,
// ErrConflict if its stored version is another.
func (s *Store) UpdateKey(ctx context.Context, k *record.Key, ev record.AuditEvent) error {
	args, err := keyArgs(k)
	if err != nil {
		return fmt.Errorf("sqlite: update key %q: %w", k.ID, err)
	}
	evArgs, err := eventArgs(k.ID, ev)
	if err != nil {
		return fmt.Errorf("sqlite: update key %q: %w", k.ID, err)
	}
	// keyArgs starts with id; the UPDATE sets the other columns, then
	// matches id and the version the caller read.
	args = append(args[1:], k.ID, k.Version-1)
	op := fmt.Sprintf("update key %q", k.ID)
	return s.keysChanged(op, s.write(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.updateKey).ExecContext(ctx, args...)
		if err != nil {
			return fmt.Errorf("sqlite: update key %q: %w", k.ID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: update key %q: %w", k.ID, err)
		}
		if n == 0 {
			// Nothing matched: tell a missing key from a stale version. The
			// write lock is held, so the answer cannot change under us.
			var stored int64
			err := tx.StmtContext(ctx, s.keyVersion).QueryRowContext(ctx, k.ID).Scan(&stored)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("sqlite: update key %q: %w", k.ID, record.ErrNotFound)
			case err != nil:
				return fmt.Errorf("sqlite: update key %q: %w", k.ID, err)
			}
			return fmt.Errorf("sqlite: update key %q to version %d: stored version is %d: %w",
				k.ID, k.Version, stored, record.ErrConflict)
		}
		if _, err := tx.StmtContext(ctx, s.insertEv).ExecContext(ctx, evArgs...); err != nil {
			return fmt.Errorf("sqlite: update key %q: audit: %w", k.ID, err)
		}
		return nil
	}))
}

// GetKey returns the key with that id, or ErrNotFound.
func (s *Store) GetKey(ctx context.Context, id string) (*record.Key, error) {
	k, err := scanKey(s.getKey.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get key %q: %w", id, record.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get key %q: %w", id, err)
	}
	return k, nil
}

// ListKeys returns the keys, of opts.Tenant only when it is set, ordered by
// creation time, then id.
func (s *Store) ListKeys(ctx context.Context, opts store.ListOptions) ([]*record.Key, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if opts.Tenant != "" {
		rows, err = s.listTenant.QueryContext(ctx, opts.Tenant)
	} else {
		rows, err = s.listKeys.QueryContext(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: list keys: %w", err)
	}
	defer rows.Close()
	keys := []*record.Key{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list keys: %w", err)
	}
	return keys, nil
}

// KeyHistory returns the key's audit events in the order they were written;
// none, and no error, for an unknown id.
func (s *Store) KeyHistory(ctx context.Context, id string) ([]record.AuditEvent, error) {
	rows, err := s.history.QueryContext(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: key history %q: %w", id, err)
	}
	defer rows.Close()
	evs := []record.AuditEvent{}
	for rows.Next() {
		var (
			ev record.AuditEvent
			at int64
		)
		if err := rows.Scan(&ev.KeyID, &ev.Action, &ev.Actor, &at, &ev.Detail); err != nil {
			return nil, fmt.Errorf("sqlite: key history %q: %w", id, err)
		}
		ev.At = fromNanos(at)
		evs = append(evs, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: key history %q: %w", id, err)
	}
	return evs, nil
}

// keyArgs returns k's column values in keyColumns order.
func keyArgs(k *record.Key) ([]any, error) {
	// nil and empty Models are both stored as "[]": there is one way to say
	// "no models", and it reads back as a non-nil empty slice.
	models := []byte("[]")
	if len(k.Models) > 0 {
		var err error
		if models, err = json.Marshal(k.Models); err != nil {
			return nil, fmt.Errorf("models: %w", err)
		}
	}
	var times [5]int64
	for i, t := range []time.Time{k.PreviousExpiresAt, k.CreatedAt, k.UpdatedAt, k.ExpiresAt, k.RevokedAt} {
		n, err := toNanos(t)
		if err != nil {
			return nil, err
		}
		times[i] = n
	}
	return []any{
		k.ID, k.Name, k.Tenant, string(models),
		k.Limits.RPM, k.Limits.TPM, k.Limits.TokensPerDay, k.Limits.TokensPerMonth,
		string(k.Status), hashArg(k.SecretHash), hashArg(k.PreviousSecretHash), times[0], k.UsageIdentifierKey,
		times[1], times[2], times[3], times[4], k.Version, string(k.Role), k.Limits.USDPerDay, k.Limits.USDPerMonth,
	}, nil
}

// hashArg stores an absent hash as NULL, which reads back as nil.
func hashArg(h []byte) any {
	if len(h) == 0 {
		return nil
	}
	return h
}

// eventArgs returns ev's column values for the key id: an event with no KeyID
// is the key's, one naming another key is a caller's bug.
func eventArgs(id string, ev record.AuditEvent) ([]any, error) {
	if ev.KeyID != "" && ev.KeyID != id {
		return nil, fmt.Errorf("audit event is for key %q", ev.KeyID)
	}
	at, err := toNanos(ev.At)
	if err != nil {
		return nil, err
	}
	return []any{id, ev.Action, ev.Actor, at, ev.Detail}, nil
}

// scanKey reads a row of keyColumns.
func scanKey(row interface{ Scan(...any) error }) (*record.Key, error) {
	var (
		k                                      record.Key
		models, status, role                   string
		prevExpires, created, updated, expires int64
		revoked                                int64
	)
	if err := row.Scan(&k.ID, &k.Name, &k.Tenant, &models,
		&k.Limits.RPM, &k.Limits.TPM, &k.Limits.TokensPerDay, &k.Limits.TokensPerMonth,
		&status, &k.SecretHash, &k.PreviousSecretHash, &prevExpires, &k.UsageIdentifierKey,
		&created, &updated, &expires, &revoked, &k.Version, &role, &k.Limits.USDPerDay, &k.Limits.USDPerMonth); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(models), &k.Models); err != nil {
		return nil, fmt.Errorf("key %q: models: %w", k.ID, err)
	}
	if k.Models == nil { // "null", written by hand
		k.Models = []string{}
	}
	k.Status = record.Status(status)
	k.Role = record.Role(role)
	k.PreviousExpiresAt = fromNanos(prevExpires)
	k.CreatedAt = fromNanos(created)
	k.UpdatedAt = fromNanos(updated)
	k.ExpiresAt = fromNanos(expires)
	k.RevokedAt = fromNanos(revoked)
	return &k, nil
}

// toNanos returns t as Unix nanoseconds, 0 for the zero time. A time outside
// what an int64 holds is refused rather than silently wrapped around.
func toNanos(t time.Time) (int64, error) {
	if t.IsZero() {
		return 0, nil
	}
	// Unix nanoseconds in an int64 span the years 1678 to 2262.
	if t.Before(time.Unix(0, math.MinInt64)) || t.After(time.Unix(0, math.MaxInt64)) {
		return 0, fmt.Errorf("time %s is outside the years 1678 to 2262", t.UTC().Format(time.RFC3339))
	}
	return t.UnixNano(), nil
}

// fromNanos is the inverse of toNanos, in UTC. (The Unix epoch itself reads
// back as the zero time; no key dates from 1970.)
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
