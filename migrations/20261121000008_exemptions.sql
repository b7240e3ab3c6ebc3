-- Exemptions: requests to exempt a scope (a resource, resource group or
-- subscription) from an assignment, or from some of its controls, decided
-- by approvers with separation of duties. An approved exemption is bound to
-- the findings it was approved against (their evidence hashes): it makes
-- them Exempt while they are unchanged and unexpired, and is flagged for
-- re-approval when a later snapshot shows a different state.

-- The longest exemption an admin allows, per control severity.
create table exemption_limits (
    severity text primary key,
    max_days integer not null,
    updated_by text not null,
    updated_at timestamptz not null default now(),
    constraint exemption_limits_severity check (severity in ('High', 'Medium', 'Low')),
    constraint exemption_limits_days check (max_days between 1 and 3650)
);
insert into exemption_limits (severity, max_days, updated_by)
values ('High', 365, 'default'), ('Medium', 365, 'default'), ('Low', 365, 'default');

create table exemptions (
    id bigint generated always as identity primary key,
    assignment_id text not null,
    -- The controls exempted (definition names); empty: every control of the assignment.
    controls text[] not null default '{}',
    -- The initiative members exempted (policyDefinitionReferenceIds); empty: all.
    reference_ids text[] not null default '{}',
    -- Lower-case ARM id of a resource, resource group or subscription.
    scope text not null,
    category text not null,
    justification text not null,
    compensating_controls text not null default '',
    ticket text not null default '',
    expires_on timestamptz not null,
    -- The highest severity among the controls covered, when requested.
    severity text not null,
    approvals_needed smallint not null,
    state text not null default 'pending',
    -- The finding it was requested from, if any.
    finding_id bigint references findings (id),
    requested_by text not null,
    requested_at timestamptz not null default now(),
    approved_at timestamptz,
    -- When an evaluation first saw a covered finding in another state.
    drifted_at timestamptz,
    -- When the expiry reminder went out.
    reminded_at timestamptz,
    constraint exemptions_category check (category in ('Waiver', 'Mitigated')),
    constraint exemptions_state check (state in ('pending', 'approved', 'rejected', 'withdrawn', 'expired', 'revoked')),
    constraint exemptions_severity check (severity in ('High', 'Medium', 'Low')),
    constraint exemptions_approvals check (approvals_needed in (1, 2)),
    constraint exemptions_justification check (length(justification) between 1 and 4000),
    constraint exemptions_compensating check (category <> 'Mitigated' or length(compensating_controls) > 0),
    constraint exemptions_lengths check (length(compensating_controls) <= 4000 and length(ticket) <= 200)
);
create index exemptions_by_state on exemptions (state, expires_on);

-- What an approved exemption covers: each finding at approval, with the
-- hash of the state and evidence that decided it.
create table exemption_bindings (
    exemption_id bigint not null references exemptions (id),
    resource_id text not null,
    control text not null,
    reference_id text not null default '',
    evidence_hash bytea not null,
    finding_id bigint not null references findings (id),
    constraint exemption_bindings_pkey primary key (exemption_id, resource_id, control, reference_id)
);

-- Every transition and decision, with its comment: an exemption's history.
create table exemption_events (
    id bigint generated always as identity primary key,
    exemption_id bigint not null references exemptions (id),
    at timestamptz not null default now(),
    actor text not null,
    -- request, approve, reject, withdraw, revoke, expire, drift, remind
    action text not null,
    from_state text,
    to_state text not null,
    comment text not null
);
create index exemption_events_by_exemption on exemption_events (exemption_id, id);

create trigger exemption_bindings_immutable before update or delete on exemption_bindings
    for each row execute function snapshot_refuse_change();
create trigger exemption_events_immutable before update or delete on exemption_events
    for each row execute function snapshot_refuse_change();

-- The current evaluation of the newest evaluated snapshot of every scope:
-- the findings a request covers and an approval is bound to.
create view current_evaluations as
select max(e.id) as id from evaluations e
 where e.snapshot_id in (select distinct on (s.scope_key) s.id from snapshots s
                          where exists (select 1 from evaluations x where x.snapshot_id = s.id)
                          order by s.scope_key, s.finished_at desc)
 group by e.snapshot_id;

-- The exemption that made a finding Exempt. Its evidence hash stays that of
-- the state underneath, which is what drift is measured against.
alter table findings add column exemption_id bigint references exemptions (id);
