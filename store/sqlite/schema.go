package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the schema changes, in order: PRAGMA user_version is the
// number applied so far. Append a migration to change the schema; never edit
// one that has shipped, since databases in the field have already run it.
var migrations = []string{
	// 1: keys and their audit trail.
	//
	// Times are integer Unix nanoseconds in UTC, 0 for the zero time. keys
	// is WITHOUT ROWID so that a lookup by id is one B-tree search; its
	// index then carries id, so a tenant's "ORDER BY created_at, id" is an
	// index walk. Listing every key sorts: the CLI does it, rarely.
	// An absent hash is NULL. models is a JSON array of glob patterns.
	// key_audit.seq is AUTOINCREMENT so that it only grows: history is
	// ordered by it, i.e. by write order, even when two events share a time.
	`CREATE TABLE keys (
		id                   TEXT PRIMARY KEY,
		name                 TEXT NOT NULL,
		tenant               TEXT NOT NULL,
		models               TEXT NOT NULL,
		rpm                  INTEGER NOT NULL,
		tpm                  INTEGER NOT NULL,
		tokens_per_day       INTEGER NOT NULL,
		tokens_per_month     INTEGER NOT NULL,
		status               TEXT NOT NULL,
		secret_hash          BLOB,
		previous_secret_hash BLOB,
		previous_expires_at  INTEGER NOT NULL,
		usage_identifier_key TEXT NOT NULL,
		created_at           INTEGER NOT NULL,
		updated_at           INTEGER NOT NULL,
		expires_at           INTEGER NOT NULL,
		revoked_at           INTEGER NOT NULL,
		version              INTEGER NOT NULL
	) STRICT, WITHOUT ROWID;
	CREATE INDEX keys_tenant_created_at ON keys (tenant, created_at);

	CREATE TABLE key_audit (
		seq    INTEGER PRIMARY KEY AUTOINCREMENT,
		key_id TEXT NOT NULL REFERENCES keys (id),
		action TEXT NOT NULL,
		actor  TEXT NOT NULL,
		at     INTEGER NOT NULL,
		detail TEXT NOT NULL
	) STRICT;
	CREATE INDEX key_audit_key_id ON key_audit (key_id);`,

	// 2: quotas (quota.Ledger).
	//
	// quota_windows counts, per principal and calendar window (span
	// 'minute', 'day' or 'month', start in Unix nanoseconds), the requests
	// and the tokens used: settled tokens plus the bounds still reserved.
	// quota_reservations are the pending bounds, with the windows they
	// count in, so that settling or releasing adjusts those windows and not
	// the ones current at the time; it holds only requests in flight, so
	// expiry scans it without an index.
	//
	// usage_ledger is one row per settled request, clustered by time (at,
	// then request_id): a report over a time range reads only that range,
	// and the one B-tree keeps a settlement's writes small, which every
	// request pays for (each index would add a page write to it). No
	// request is counted twice because settling consumes its pending
	// reservation in the same transaction.
	`CREATE TABLE quota_windows (
		principal_id TEXT NOT NULL,
		span         TEXT NOT NULL,
		start        INTEGER NOT NULL,
		requests     INTEGER NOT NULL,
		tokens       INTEGER NOT NULL,
		PRIMARY KEY (principal_id, span, start)
	) STRICT, WITHOUT ROWID;
	CREATE INDEX quota_windows_span_start ON quota_windows (span, start);

	CREATE TABLE quota_reservations (
		id           TEXT PRIMARY KEY,
		principal_id TEXT NOT NULL,
		tenant       TEXT NOT NULL,
		model        TEXT NOT NULL,
		tokens       INTEGER NOT NULL,
		minute_start INTEGER NOT NULL,
		day_start    INTEGER NOT NULL,
		month_start  INTEGER NOT NULL,
		created_at   INTEGER NOT NULL,
		expires_at   INTEGER NOT NULL
	) STRICT, WITHOUT ROWID;

	CREATE TABLE usage_ledger (
		at                INTEGER NOT NULL,
		request_id        TEXT NOT NULL,
		principal_id      TEXT NOT NULL,
		tenant            TEXT NOT NULL,
		model             TEXT NOT NULL,
		prompt_tokens     INTEGER NOT NULL,
		completion_tokens INTEGER NOT NULL,
		reserved_tokens   INTEGER NOT NULL,
		PRIMARY KEY (at, request_id)
	) STRICT, WITHOUT ROWID;`,

	// 3: principal ids carry their kind (record.KeyPrincipalID,
	// record.JWTPrincipalID), so that an API key's id and a JWT subject no
	// longer share windows, reservations and ledger rows.
	//
	// A stored id that is the id of a key in keys becomes "key:ID". Any
	// other was a JWT subject, whose issuer was not recorded: it becomes
	// "jwt:#SUBJECT" (an empty issuer, which no configured issuer has). Its
	// windows therefore no longer count towards the same subject's new
	// requests, whose id names the issuer: a JWT principal's day and month
	// budgets start again at the upgrade. Rows that a JWT whose subject
	// equalled a key id wrote cannot be told from the key's: they stay the
	// key's.
	//
	// quota_windows has the principal in its primary key: it is rebuilt
	// rather than updated in place, so that no intermediate state of the
	// update can collide with a row not yet rewritten.
	`CREATE TABLE quota_windows_v3 (
		principal_id TEXT NOT NULL,
		span         TEXT NOT NULL,
		start        INTEGER NOT NULL,
		requests     INTEGER NOT NULL,
		tokens       INTEGER NOT NULL,
		PRIMARY KEY (principal_id, span, start)
	) STRICT, WITHOUT ROWID;
	INSERT INTO quota_windows_v3 (principal_id, span, start, requests, tokens)
		SELECT CASE WHEN principal_id IN (SELECT id FROM keys) THEN 'key:' || principal_id ELSE 'jwt:#' || principal_id END,
			span, start, requests, tokens
		FROM quota_windows;
	DROP TABLE quota_windows;
	ALTER TABLE quota_windows_v3 RENAME TO quota_windows;
	CREATE INDEX quota_windows_span_start ON quota_windows (span, start);

	UPDATE quota_reservations SET principal_id =
		CASE WHEN principal_id IN (SELECT id FROM keys) THEN 'key:' || principal_id ELSE 'jwt:#' || principal_id END;
	UPDATE usage_ledger SET principal_id =
		CASE WHEN principal_id IN (SELECT id FROM keys) THEN 'key:' || principal_id ELSE 'jwt:#' || principal_id END;`,

	// 4: the inbound protocol of each request (quota.Request.Protocol:
	// "chat", "embeddings", "responses", "messages") on its reservation and
	// its ledger row. Rows from before have '': they were all chat
	// completions (or embeddings), the only protocol there was.
	`ALTER TABLE quota_reservations ADD COLUMN protocol TEXT NOT NULL DEFAULT '';
	ALTER TABLE usage_ledger ADD COLUMN protocol TEXT NOT NULL DEFAULT '';`,

	// 5: a key's role (record.Key.Role): '' for an ordinary key, 'admin' for
	// one that may use the console. Keys from before are ordinary.
	`ALTER TABLE keys ADD COLUMN role TEXT NOT NULL DEFAULT '';`,

	// 6: money and tenants. Amounts are integer micro-dollars
	// (pricing.Micros), never floats.
	//
	// keys get USD budgets per day and month. quota_windows count the
	// dollars reserved and settled (usd) beside the tokens; a tenant's
	// windows are rows like a principal's, under "tenant:NAME"
	// (quota.TenantWindowsID). A reservation keeps its cost bound and
	// whether it counted in its tenant's windows, so that settling and
	// releasing adjust exactly what reserving counted. A ledger row keeps
	// the cache parts of its prompt, its cost and the price it was settled
	// at (per 1M tokens), so a later price change never rewrites history;
	// unpriced marks a model that had no price (cost 0). Rows from before
	// have cost 0 and no price: they were not priced.
	//
	// tenants hold a tenant's limits, tenant_audit every change to them
	// (as key_audit does for keys).
	`ALTER TABLE keys ADD COLUMN usd_per_day INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE keys ADD COLUMN usd_per_month INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE quota_windows ADD COLUMN usd INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE quota_reservations ADD COLUMN cost_micros INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE quota_reservations ADD COLUMN tenant_windows INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE usage_ledger ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE usage_ledger ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE usage_ledger ADD COLUMN cost_micros INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE usage_ledger ADD COLUMN price_input INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE usage_ledger ADD COLUMN price_output INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE usage_ledger ADD COLUMN price_cached_input INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE usage_ledger ADD COLUMN price_cache_write INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE usage_ledger ADD COLUMN unpriced INTEGER NOT NULL DEFAULT 0;

	CREATE TABLE tenants (
		name             TEXT PRIMARY KEY,
		rpm              INTEGER NOT NULL,
		tpm              INTEGER NOT NULL,
		tokens_per_day   INTEGER NOT NULL,
		tokens_per_month INTEGER NOT NULL,
		usd_per_day      INTEGER NOT NULL,
		usd_per_month    INTEGER NOT NULL,
		created_at       INTEGER NOT NULL,
		updated_at       INTEGER NOT NULL,
		version          INTEGER NOT NULL
	) STRICT, WITHOUT ROWID;

	CREATE TABLE tenant_audit (
		seq    INTEGER PRIMARY KEY AUTOINCREMENT,
		tenant TEXT NOT NULL REFERENCES tenants (name),
		action TEXT NOT NULL,
		actor  TEXT NOT NULL,
		at     INTEGER NOT NULL,
		detail TEXT NOT NULL
	) STRICT;
	CREATE INDEX tenant_audit_tenant ON tenant_audit (tenant);`,

	// 7: the ledger log of an Owner (aigate serve admitting in memory, see
	// owner.go): the sequence number of the last log record applied here,
	// updated in the transaction that applies it, so that a replay after a
	// crash skips what the database already holds. One row.
	`CREATE TABLE ledger_log (
		id          INTEGER PRIMARY KEY CHECK (id = 1),
		applied_seq INTEGER NOT NULL
	) STRICT;
	INSERT INTO ledger_log (id, applied_seq) VALUES (1, 0);`,
}

// migrate applies the migrations the database has not run yet, all in one
// transaction with the version bump, so a crash leaves the old schema whole.
// Two processes opening a new file at once are serialized by BEGIN
// IMMEDIATE: the second finds the work done.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()

	var version int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return fmt.Errorf("migrate: read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("migrate: schema version %d is newer than this build knows (%d): use a newer aigate", version, len(migrations))
	}
	if version == len(migrations) {
		return nil
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migrate: migration %d: %w", i+1, err)
		}
	}
	// PRAGMA takes no bound parameters; the value is an int.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations))); err != nil {
		return fmt.Errorf("migrate: set schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
