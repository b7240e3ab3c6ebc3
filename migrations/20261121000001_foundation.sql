-- Foundation: local accounts, scoped roles, API tokens, sign-in throttling,
-- sessions (shared by every server process) and the append-only audit log.

create table users (
    id uuid primary key,
    name text not null,
    password_hash text not null,
    created_at timestamptz not null default now(),
    -- Sessions authenticated before this instant are void (password reset).
    password_changed_at timestamptz not null default now(),
    disabled_at timestamptz,
    constraint users_name_key unique (name),
    constraint users_name_format check (name ~ '^[a-z0-9][a-z0-9._@-]{0,63}$')
);

create table user_roles (
    user_id uuid not null references users (id) on delete cascade,
    role text not null,
    -- Only the approver role is scoped (an ARM scope id, lower-case); the others
    -- hold everywhere and carry the empty scope.
    scope text not null default '',
    granted_at timestamptz not null default now(),
    granted_by text not null,
    constraint user_roles_pkey primary key (user_id, role, scope),
    constraint user_roles_role_check
        check (role in ('viewer', 'auditor', 'requester', 'approver', 'admin')),
    constraint user_roles_scope_check check ((role = 'approver') = (scope <> ''))
);

create table api_tokens (
    id uuid primary key,
    user_id uuid not null references users (id) on delete cascade,
    label text not null,
    -- SHA-256 of the secret: the secret has 256 bits of entropy, so a slow
    -- hash adds nothing and would cost every API request.
    token_hash bytea not null,
    created_at timestamptz not null default now(),
    created_by text not null,
    last_used_at timestamptz,
    revoked_at timestamptz,
    constraint api_tokens_token_hash_key unique (token_hash),
    constraint api_tokens_label_length check (char_length(label) between 1 and 100)
);
create index api_tokens_user_idx on api_tokens (user_id);

-- Failed sign-ins, counted per account and per client address over a window.
-- Kept in the database so every server replica sees the same counts.
create table signin_failures (
    id bigint generated always as identity primary key,
    username text not null,
    client_addr text not null,
    at timestamptz not null default now()
);
create index signin_failures_username_idx on signin_failures (username, at);
create index signin_failures_client_idx on signin_failures (client_addr, at);

-- The shape tower-sessions-sqlx-store expects; created here so that the
-- schema has one owner (the migrations) and start-up needs no DDL.
create schema tower_sessions;
create table tower_sessions.session (
    id text primary key not null,
    data bytea not null,
    expiry_date timestamptz not null
);
create index session_expiry_idx on tower_sessions.session (expiry_date);

create table audit_log (
    seq bigint primary key,
    at timestamptz not null,
    actor text not null,
    action text not null,
    object text not null,
    details jsonb not null,
    prev_hash bytea not null,
    hash bytea not null,
    constraint audit_log_seq_positive check (seq > 0),
    constraint audit_log_hash_length check (octet_length(hash) = 32 and octet_length(prev_hash) = 32)
);
create index audit_log_action_idx on audit_log (action, seq);
create index audit_log_actor_idx on audit_log (actor, seq);
create index audit_log_at_idx on audit_log (at);

-- Append-only, enforced by the database itself. Triggers fire for superusers
-- too, so this holds whatever role the server connects as.
create function audit_log_refuse_change() returns trigger
language plpgsql as $$
begin
    raise exception 'audit_log is append-only: % refused', tg_op
        using errcode = 'insufficient_privilege';
end
$$;

create trigger audit_log_no_update_or_delete
    before update or delete on audit_log
    for each row execute function audit_log_refuse_change();

create trigger audit_log_no_truncate
    before truncate on audit_log
    for each statement execute function audit_log_refuse_change();
