-- Attestations of manual controls: an auditor's statement, with a note and
-- an attached document, that a resource meets (or fails) a control that
-- Attest cannot check itself. It holds for the resource document it was
-- made against; a later snapshot that changes the resource ends it.

create table attestations (
    id bigint generated always as identity primary key,
    control text not null,
    resource_id text not null,
    state text not null,
    note text not null,
    attachment_name text not null,
    attachment_type text not null,
    attachment bytea not null,
    attachment_sha256 bytea not null,
    -- The SHA-256 of the resource document attested (documents.hash).
    document_hash bytea not null,
    attested_by text not null,
    attested_at timestamptz not null default now(),
    constraint attestations_state check (state in ('Compliant', 'NonCompliant')),
    constraint attestations_note check (length(note) between 1 and 4000)
);
create index attestations_by_resource on attestations (control, resource_id, attested_at desc);

create trigger attestations_immutable before update or delete on attestations
    for each row execute function snapshot_refuse_change();
