-- Snapshots: immutable scans of an estate. Resource documents are stored
-- once, by the SHA-256 of their canonical JSON (RFC 8785), so an unchanged
-- resource across snapshots costs one row of references, not a copy.

create table documents (
    hash bytea primary key,
    body jsonb not null,
    constraint documents_hash_length check (octet_length(hash) = 32)
);

create table snapshots (
    id uuid primary key,
    -- SHA-256 of the canonical snapshot document: the same file imported
    -- twice is stored once.
    content_hash bytea not null,
    schema_version integer not null,
    scope jsonb not null,
    -- Snapshots with the same key are of the same scope (diffs, deltas).
    scope_key text not null,
    started_at timestamptz not null,
    finished_at timestamptz not null,
    collector text not null,
    source text not null,
    imported_at timestamptz not null default now(),
    imported_by text not null,
    partial boolean not null,
    errors jsonb not null,
    account_count integer not null,
    deployment_count integer not null,
    role_assignment_count integer not null,
    constraint snapshots_content_hash_key unique (content_hash),
    constraint snapshots_source_check check (source in ('scan', 'import', 'api', 'upload', 'demo')),
    constraint snapshots_times_check check (finished_at >= started_at)
);
create index snapshots_scope_idx on snapshots (scope_key, finished_at desc);

create table snapshot_resources (
    snapshot_id uuid not null references snapshots (id),
    kind text not null,
    -- The ARM id, lower-cased (ARM ids compare case-insensitively).
    resource_id text not null,
    -- The account a child resource belongs to; null for accounts and
    -- estate-wide documents (role definitions, policy assignments, …).
    account_id text,
    document_hash bytea not null references documents (hash),
    constraint snapshot_resources_pkey primary key (snapshot_id, kind, resource_id)
);
create index snapshot_resources_account_idx on snapshot_resources (snapshot_id, account_id);
create index snapshot_resources_document_idx on snapshot_resources (document_hash);

create table snapshot_usage (
    snapshot_id uuid not null references snapshots (id),
    account_id text not null,
    deployment text not null,
    day date not null,
    prompt_tokens bigint not null,
    completion_tokens bigint not null,
    total_tokens bigint not null,
    requests bigint not null,
    constraint snapshot_usage_pkey primary key (snapshot_id, account_id, deployment, day)
);

-- Snapshots are evidence: once written, never changed. (Documents are
-- content-addressed, so changing one would break its own address.)
create function snapshot_refuse_change() returns trigger
language plpgsql as $$
begin
    raise exception '% is immutable: % refused', tg_table_name, tg_op
        using errcode = 'insufficient_privilege';
end
$$;

create trigger snapshots_immutable before update or delete on snapshots
    for each row execute function snapshot_refuse_change();
create trigger snapshot_resources_immutable before update or delete on snapshot_resources
    for each row execute function snapshot_refuse_change();
create trigger snapshot_usage_immutable before update or delete on snapshot_usage
    for each row execute function snapshot_refuse_change();
create trigger documents_immutable before update or delete on documents
    for each row execute function snapshot_refuse_change();
