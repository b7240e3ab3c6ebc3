-- Findings: one row per (assignment, control, resource) of an evaluation of
-- a snapshot, with its state, the evidence that decided it and its delta
-- against the previous evaluation of the same scope. Rows are never
-- changed: evaluating again (after an assignment changes) writes a new
-- evaluation, and a snapshot's current evaluation is its newest.

create table evaluations (
    id bigint generated always as identity primary key,
    snapshot_id uuid not null references snapshots (id),
    evaluated_at timestamptz not null default now(),
    -- What the deltas were computed against.
    previous_evaluation_id bigint references evaluations (id),
    -- 'import', or why it was evaluated again.
    reason text not null,
    finding_count integer not null,
    -- Azure's compliance percentage over resources; null when nothing applied.
    compliance double precision
);
create index evaluations_by_snapshot on evaluations (snapshot_id, id);

create table findings (
    id bigint generated always as identity primary key,
    -- Checked at commit: the evaluation row, which carries the totals, is
    -- written after its findings.
    evaluation_id bigint not null references evaluations (id) deferrable initially deferred,
    snapshot_id uuid not null references snapshots (id),
    assignment_id text not null,
    -- The definition's name, e.g. attest-network-public-access.
    control text not null,
    -- Lower-case ARM id, and its last segment (the resource's name).
    resource_id text not null,
    resource_name text not null generated always as (regexp_replace(resource_id, '^.*/', '')) stored,
    resource_type text not null,
    subscription_id text,
    state text not null,
    severity text not null,
    -- 0 High, 1 Medium, 2 Low: the list's first sort key.
    severity_rank smallint not null generated always as
        (case severity when 'High' then 0 when 'Medium' then 1 else 2 end) stored,
    area text not null,
    effect text,
    -- {"reasons": [...], "message": ...}: the paths and values that decided.
    evidence jsonb not null,
    -- SHA-256 of the state and the evidence (sorted-key JSON): what an
    -- exemption is approved against, and what tells "unchanged" from "changed".
    evidence_hash bytea not null,
    delta text not null,
    first_seen timestamptz not null,
    constraint findings_key unique (evaluation_id, assignment_id, control, resource_id),
    constraint findings_state check (state in ('NonCompliant', 'Compliant', 'Error', 'Conflicting', 'Protected', 'Exempt', 'Unknown')),
    constraint findings_severity check (severity in ('High', 'Medium', 'Low')),
    constraint findings_delta check (delta in ('new', 'unchanged', 'changed', 'resolved'))
);

-- The findings list reads one evaluation in (severity, control, resource)
-- order, optionally by state or by control, and stops after a page.
create index findings_in_order on findings (evaluation_id, severity_rank, control, resource_id, id);
create index findings_by_state on findings (evaluation_id, state, severity_rank, control, resource_id, id);
create index findings_by_control on findings (evaluation_id, control, severity_rank, resource_id, id);
-- The resource filter: a name prefix, or an id prefix.
create index findings_by_name on findings (evaluation_id, resource_name text_pattern_ops);
create index findings_by_id_prefix on findings (evaluation_id, resource_id text_pattern_ops);
-- A finding's history across evaluations.
create index findings_by_resource on findings (resource_id, control);

-- Finding counts per (state, severity, control) of each evaluation: the
-- list's totals without counting a million rows.
create table evaluation_counts (
    evaluation_id bigint not null references evaluations (id),
    state text not null,
    severity text not null,
    control text not null,
    n integer not null,
    constraint evaluation_counts_pkey primary key (evaluation_id, state, severity, control)
);

create trigger findings_immutable before update or delete on findings
    for each row execute function snapshot_refuse_change();
create trigger evaluations_immutable before update or delete on evaluations
    for each row execute function snapshot_refuse_change();
create trigger evaluation_counts_immutable before update or delete on evaluation_counts
    for each row execute function snapshot_refuse_change();

-- Control assignments: which controls apply where, with which parameters.
-- Changing one is audited and evaluates the newest snapshot of each scope
-- again.
create table policy_assignments (
    id text primary key,
    display_name text not null,
    definition_id text not null,
    scope text not null,
    not_scopes text[] not null default '{}',
    parameters jsonb not null default '{}',
    enforcement_mode text not null default 'Default',
    updated_at timestamptz not null default now(),
    updated_by text not null,
    constraint policy_assignments_enforcement check (enforcement_mode in ('Default', 'DoNotEnforce'))
);
