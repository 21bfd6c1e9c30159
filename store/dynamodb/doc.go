// Package dynamodb is aigate's store on AWS: API keys and their audit
// history, rate-limit windows, pending reservations and the usage ledger,
// in five DynamoDB tables, through aws-sdk-go-v2. It never needs
// TransactWriteItems (dynalite, the emulator it is tested against, lacks
// it): every multi-item change has one conditional write as its commit
// point and is ordered so that a crash between steps is harmless or
// repaired. It never scans on a request path, and never stores a secret.
//
// # Selecting it
//
// One setting, the store URL (flag --store, env AIGATE_STORE), for the CLI,
// `aigate serve` and both Lambdas:
//
//	dynamodb://TABLE_PREFIX[?region=REGION][&endpoint=URL]
//
// Region: the URL's, else AWS_REGION (set in every Lambda). Credentials:
// the SDK's default chain (the execution role in a Lambda). An endpoint on
// loopback (dynalite, DynamoDB Local) with no AWS_ACCESS_KEY_ID in the
// environment gets static dummy credentials, region us-east-1 by default,
// and the EC2 metadata service disabled, so a local run needs no AWS
// setup and sends nothing off the machine. Open builds the client once and
// sends nothing; a Lambda builds it at init, outside the request path, and
// every error afterwards is returned (the authorizer fails closed on it).
// `aigate store init` creates the tables on a local endpoint, idempotently;
// on AWS the Pulumi program creates them.
//
// # Tables
//
// Names are the prefix plus a fixed suffix. All are on-demand
// (PAY_PER_REQUEST); point-in-time recovery is advisable for keys,
// key_events and ledger. Every GSI projects ALL. Times are Unix
// nanoseconds (N), absent when zero; "order" strings are the time as 20
// fixed-width digits (offset so that they sort as times), '#', then an id.
//
//	table / index            partition key (type), sort key (type)
//	{prefix}keys             id (S)
//	  GSI by_tenant          tenant_pk (S), tenant_sk (S)
//	{prefix}key_events       key_id (S), version (N)
//	{prefix}usage            pk (S)            TTL on attribute ttl
//	{prefix}reservations     id (S)
//	  GSI by_expiry          expiry_shard (N), expires_at (N)
//	{prefix}ledger           principal_id (S), at_id (S)
//	  GSI by_tenant          tenant_shard (S), at_id (S)
//
// keys: one item per API key, read by id with a strongly consistent
// GetItem (one read unit: items are well under 4 KB). tenant_pk is "t#"
// plus the tenant ("t#" alone for none), tenant_sk the creation order and
// id, so that a tenant's keys come back in ListKeys order. The item also
// embeds the audit event of its current version (ev_version, ev_action,
// ev_actor, ev_at, ev_detail). Its expires_at is the key's expiry, not a
// TTL: never enable TTL on this table.
//
// key_events: the audit history, one item per (key, version); a version's
// event is copied here from the key item (see "Key changes").
//
// Tenants (store.Tenants) are items of the keys table too, id
// "tenant:NAME" and kind "tenant", with their limits, version and embedded
// event like a key (their events go to key_events under key_id
// "tenant:NAME"): no table or IAM grant is added for them, and the AI API
// Lambda reads them with the GetItem it has. GetKey and ListKeys skip them.
//
// usage: one counter item per principal and window, pk
// "minute#2025-03-14T15:09Z#PRINCIPAL", "day#2025-03-14#PRINCIPAL" or
// "month#2025-03#PRINCIPAL" (the principal last, after fixed-format parts,
// so no principal id can collide with another's key), holding requests (N)
// and tokens (N), reserved and settled alike, usd (N, micro-dollars,
// likewise), and ttl: epoch seconds of the
// window's end plus 1 hour (minute), 7 days (day) or 32 days (month), kept
// past the window so that a late settlement still finds it. Enable TTL on
// the attribute ttl. dynalite has no TTL: there the items stay.
//
// reservations: one item per pending request, id the request id, with st
// ("pending" or "settling"), the principal, tenant, model, protocol (the
// inbound API, quota.Request.Protocol), tokens, the three window starts and expires_at (which Extend moves later); a settling item
// also holds the usage, settled_at, settle_nonce, and late (1) for a late
// settlement. by_expiry is sharded over expiry_shard
// 0..15 (FNV-1a of the id), so that ExpireReservations queries 16
// partitions for expired items only, and the index takes every
// reservation's writes without a hot partition.
//
// ledger: one row per settled request (request_id, tenant, model,
// protocol, prompt_tokens, completion_tokens, reserved_tokens, at; a late
// settlement's row also its settle_nonce), keyed by
// principal and at_id (time, then request id): a principal's usage is one
// strongly consistent Query in time order. by_tenant is sharded over
// tenant_shard "TENANT#00".."TENANT#15" (by request id; rows without a
// tenant are not in it): a tenant's usage is 16 Queries, merged.
// Attributes that are empty are left out (tenant, model, protocol): rows
// written before protocol was recorded have none, meaning chat
// completions, and need no migration.
//
// # Principal ids
//
// Every PRINCIPAL above is a principal id with its kind, "key:KEYID" or
// "jwt:ISSUER#SUBJECT" (record.KeyPrincipalID, record.JWTPrincipalID), so an
// API key and a JWT subject with the same id never share a counter or a
// ledger partition. Tables written before ids had a kind hold bare ids:
// `aigate store migrate` (Store.MigratePrincipalIDs) rewrites them, key ids
// to "key:ID" and anything else to "jwt:#SUBJECT" (the issuer was not
// recorded), merging counters into those the new version already wrote.
// It is idempotent; run it once the new version is deployed. The layout
// (tables, keys, indexes) is unchanged.
//
// # Calls per AI request
//
// Counted by cmd/aiapi's BenchmarkDynamoDBPerRequest (the real Lambda
// handlers over dynalite; BENCHMARKS.md): a chat completion costs 10 writes
// of 1 WCU each (every item is under 1 KB): Reserve 4 (three counters,
// the reservation), Settle 6 (commit, ledger row, delete, three counter
// adjustments), 10 WCU, so 10 million WCU per million requests; 16 when a
// tenant with limits counts too (its three counters and their adjustments).
// Reads: none while the key's status and tenant are cached (1 s in the AI
// API, 5 s in the authorizer); a key's first request costs 2 GetItems of 1
// RCU (authorizer, key status). In sequence the request waits for 6 round
// trips: Reserve 2, Settle 4.
//
// That is the floor of this layout without transactions; each step above
// is what a crash or a lost answer relies on. The two levers, not taken:
// TransactWriteItems would cut round trips, not units (2 WCU per item), and
// dynalite lacks it; one counter item per principal holding its minute,
// day and month windows would make Reserve 2 writes and Settle 4 (tenant
// requests 8, not 16), but the items' layout changes, and while old and new
// versions run side by side during a deployment they would count in
// different items, each letting through up to the whole budget.
//
// # Hot partitions
//
// Key reads spread over key ids, and the authorizer caches keys (and API
// Gateway caches decisions). keys.by_tenant is not sharded: it is written
// only when a key changes, which is rare, and GSIs have no item-collection
// size limit; listing every key is a Scan, an operator's command. Each
// usage item takes two writes per request (reserve, settle), so one
// principal can sustain about 500 requests/s, DynamoDB's 1000 writes/s per
// item; exact budgets cannot be sharded without a transaction, and a
// principal that needs more must be split into several. That same bound
// keeps a principal's ledger partition below its write limit; a tenant's
// many principals are what by_tenant's 16 shards are for, as every
// reservation's three writes are for by_expiry's (about 5000 requests/s).
// The shard counts may be raised (readers query 0..N-1, which covers the
// old shards), never lowered.
//
// # Consistency and crashes
//
// Key changes. UpdateKey reads the key (consistently), copies the key
// item's embedded event to key_events if it is not there, then commits
// with a PutItem conditional on the version it read, embedding the new
// event, then copies that (best effort). CreateKey is the same with
// attribute_not_exists(id). key_events therefore only ever holds events of
// versions the key reached, and always every version older than the
// current one; KeyHistory reads the key first and adds its embedded event
// when the copy is missing. A crash anywhere loses no event and shows none
// that did not happen.
//
// Reserve: the three window counters are conditional UpdateItems with ADD
// (condition: limit minus this request not exceeded, for requests, tokens
// and dollars), in parallel, and three more for the tenant's windows
// ("tenant:NAME" in place of the principal) when the tenant is defined; then the
// reservation item, attribute_not_exists(id). A denial or error gives back
// what was counted; a crash before the reservation item leaves counters too
// high by one request (budget held back, never overspent). Settle commits
// by moving the reservation from pending to settling with the real usage
// (conditional UpdateItem: a second Settle, or one after Release or expiry,
// fails here with ErrNotFound), then puts the ledger row (conditional on its
// absence, so it is written once), deletes the reservation (conditional on
// settling: whoever deletes it adjusts the counters, once) and adjusts the
// windows by real minus reserved. ExpireReservations finishes a settling
// reservation whose expiry passed, so a committed settlement's ledger row is
// never lost; a crash between the delete and the adjustment leaves the
// reserved amount counted, which is the upper bound. Release and expiry
// delete a pending reservation conditionally, then give its tokens back.
// The finishing delete is conditional on the settle_nonce too, since a late
// settlement may reuse the id once the item is gone.
//
// Late settlement (the reservation expired or was released before Settle):
// the commit is a PutItem of the reservation item, settling and late,
// conditional on attribute_not_exists(id), so one settlement of a request
// runs at a time. The finishing steps then first Query the principal's
// ledger (strongly consistent, from the reservation's creation on) for
// a row of the request without this settlement's nonce: if there is one,
// the request was settled before, and the item is deleted with nothing
// else written; otherwise the steps are those above, adding all the real
// tokens. Rows are written before their item is deleted, so of two
// Settles of one request the second to commit finds the first's row.
//
// Extend is an UpdateItem of expires_at conditional on pending and an
// earlier expiry; expiry's delete is conditional on pending and expired,
// so one of the two sees the other's effect.
//
// Lost answers. The SDK retries a request whose answer was lost, which
// may apply it twice. Conditional puts that commit carry a nonce
// (write_nonce, see putOnce; a settlement's settle_nonce) and accept their
// own earlier write, so a retry succeeds instead of reporting a conflict;
// ADDs that subtract (giving budget back) are never retried blindly, only
// after throttling, which proves they were not applied. Every remaining
// ambiguity resolves towards counting too much: budget held back, never
// overspent.
//
// Reads of items and of a principal's ledger are strongly consistent. The
// GSIs (a tenant's keys or usage, expired reservations) are eventually
// consistent on AWS, usually for well under a second; dynalite updates
// them synchronously.
//
// # IAM, per component (ARNs arn:aws:dynamodb:REGION:ACCOUNT:table/NAME)
//
//	authorizer Lambda   {prefix}keys: GetItem, PutItem (the 'expired' update)
//	                    {prefix}key_events: PutItem
//	AI API Lambda       {prefix}keys: GetItem
//	                    {prefix}usage: UpdateItem, GetItem
//	                    {prefix}reservations: GetItem, PutItem, UpdateItem, DeleteItem;
//	                      Query on {prefix}reservations/index/by_expiry (ExpireReservations)
//	                    {prefix}ledger: PutItem, Query (a late settlement); Query on
//	                      {prefix}ledger/index/by_tenant, Scan, if it serves usage reports
//	                    (if it records key expiry itself, as the authorizer does:
//	                      {prefix}keys PutItem and {prefix}key_events PutItem)
//	operators (CLI)     {prefix}keys: GetItem, PutItem, Scan, Query on index/by_tenant
//	                    {prefix}key_events: PutItem, Query
//	                    {prefix}ledger: Query, Scan, Query on index/by_tenant
//	                    store init, local only: CreateTable, DescribeTable,
//	                      DescribeTimeToLive, UpdateTimeToLive
//	                    store migrate: Scan on keys, usage, reservations and
//	                      ledger; usage: UpdateItem, DeleteItem;
//	                      reservations: UpdateItem; ledger: PutItem, DeleteItem
//
// # Differences from DynamoDB proper (dynalite)
//
// dynalite has no TransactWriteItems (not used) and no UpdateTimeToLive
// (store init reports it; window items are not expired); it ignores
// ReturnValuesOnConditionCheckFailure (a denial then re-reads the counter:
// one more GetItem, on the denial path only); its GSIs are synchronous; it
// enforces no throughput or per-partition limits.
package dynamodb
