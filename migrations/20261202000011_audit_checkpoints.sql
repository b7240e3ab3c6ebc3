-- Signed checkpoints of the audit chain's head (see core/src/checkpoints.rs).
-- The signature, made with a key kept outside the database, is what makes a
-- rewrite of audit_log show; this table only keeps the notes where the
-- portal and its replicas find them. Copies also live outside the database,
-- so deleting rows here hides nothing.
create table audit_checkpoints (
    tree_size bigint not null,
    head bytea not null,
    -- The signing key, `name+id` in signed-note terms.
    key text not null,
    -- The signed note (C2SP tlog-checkpoint), exactly as signed.
    note text not null,
    created_at timestamptz not null default now(),
    primary key (tree_size, key),
    constraint audit_checkpoints_size_positive check (tree_size > 0),
    constraint audit_checkpoints_head_length check (octet_length(head) = 32),
    constraint audit_checkpoints_note_length check (length(note) <= 4096)
);

-- Append-only, like audit_log, by the same function, which now names the
-- table it guards.
create or replace function audit_log_refuse_change() returns trigger
language plpgsql as $$
begin
    raise exception '% is append-only: % refused', tg_table_name, tg_op
        using errcode = 'insufficient_privilege';
end
$$;

create trigger audit_checkpoints_no_update_or_delete
    before update or delete on audit_checkpoints
    for each row execute function audit_log_refuse_change();

create trigger audit_checkpoints_no_truncate
    before truncate on audit_checkpoints
    for each statement execute function audit_log_refuse_change();
