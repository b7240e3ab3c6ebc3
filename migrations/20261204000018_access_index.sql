-- The access list's index (core/access/stored.rs): per snapshot and AI
-- account, the principals that reach it with what each can do and which
-- flags it raises, in the list's order. Computed once per snapshot (by the
-- portal's background job after an import, or by the first request that
-- needs it) so the whole estate's list is counted and paged without
-- computing every account's access on each request (12 s for the
-- 500,000-assignment benchmark estate).

-- One account's entries, content-addressed: an account whose access did
-- not change between snapshots shares its set. `principals` holds the
-- lower-case object ids, one per line; `keys` four bytes per principal
-- (little-endian: kind, levels and flags, as stored.rs packs them).
create table access_sets (
    hash bytea primary key,
    principals text not null,
    keys bytea not null
);

-- Which set each account of a snapshot has.
create table snapshot_access (
    snapshot_id uuid not null references snapshots (id),
    account_id text not null,
    account_name text not null,
    set_hash bytea not null references access_sets (hash),
    primary key (snapshot_id, account_id)
);

-- A snapshot's index is complete when this row exists (written in the
-- same transaction as its sets), with what the snapshot could see.
create table access_indexes (
    snapshot_id uuid primary key references snapshots (id),
    accounts integer not null,
    row_count bigint not null,
    graph boolean not null,
    pim boolean not null,
    created_at timestamptz not null default now()
);
