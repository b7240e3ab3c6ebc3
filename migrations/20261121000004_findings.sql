-- Findings: one row per (assignment, control, resource) of an evaluated
-- snapshot, with its state, the evidence that decided it and its delta
-- against the previous snapshot of the same scope. Rows are never changed:
-- a new evaluation is a new snapshot's rows.

create table evaluations (
    snapshot_id uuid primary key references snapshots (id),
    evaluated_at timestamptz not null default now(),
    previous_snapshot_id uuid references snapshots (id),
    finding_count integer not null,
    -- Azure's compliance percentage over resources; null when nothing applied.
    compliance double precision
);

create table findings (
    id bigint generated always as identity primary key,
    snapshot_id uuid not null references evaluations (snapshot_id),
    assignment_id text not null,
    -- The definition's name, e.g. attest-network-public-access.
    control text not null,
    -- Lower-case ARM id.
    resource_id text not null,
    resource_type text not null,
    subscription_id text,
    state text not null,
    severity text not null,
    area text not null,
    effect text,
    -- {"reasons": [...], "message": ...}: the paths and values that decided.
    evidence jsonb not null,
    -- SHA-256 of the state and the canonical evidence: what an exemption is
    -- approved against, and what tells "unchanged" from "changed".
    evidence_hash bytea not null,
    delta text not null,
    first_seen timestamptz not null,
    constraint findings_key unique (snapshot_id, assignment_id, control, resource_id),
    constraint findings_state check (state in ('NonCompliant', 'Compliant', 'Error', 'Conflicting', 'Protected', 'Exempt', 'Unknown')),
    constraint findings_severity check (severity in ('High', 'Medium', 'Low')),
    constraint findings_delta check (delta in ('new', 'unchanged', 'changed', 'resolved'))
);

-- The findings list filters by snapshot then state/severity/control and
-- pages by id.
create index findings_by_state on findings (snapshot_id, state, severity, id);
create index findings_by_control on findings (snapshot_id, control, id);
create index findings_by_resource on findings (resource_id, control);

create trigger findings_immutable before update or delete on findings
    for each row execute function snapshot_refuse_change();
create trigger evaluations_immutable before update or delete on evaluations
    for each row execute function snapshot_refuse_change();
