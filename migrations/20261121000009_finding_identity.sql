-- Findings keep their identity, and storage grows with change.
--
-- Before: every evaluation stored every finding again, with a new id, so a
-- finding's page reached from an exemption or a bookmark showed a stale
-- evaluation, and a daily scan of a large estate added gigabytes a day.
--
-- Now:
-- * `finding_keys` is a finding's identity: (assignment, control, initiative
--   member, resource), found by the SHA-256 of those four (`key_hash`). Its
--   id is the finding's URL and REST id for good.
-- * `finding_spans` holds a finding's state as intervals over an evaluation
--   chain: a span starts at the evaluation that first saw the finding in
--   this state (`first_eval`) and ends at the one that saw it change or
--   vanish (`until_eval`, exclusive; null while it holds). An evaluation
--   writes spans only for what changed and closes the spans it ended.
-- * An evaluation chain is the sequence of evaluations of one scope's newest
--   snapshots (`evaluations.chain` = the snapshot's scope key). Evaluating a
--   snapshot that is not its scope's newest (an old file uploaded late, an
--   old snapshot evaluated again) starts a detached chain of its own, named
--   '~snapshot <id>', so a chain always advances in evaluation-id order and
--   "the evaluation E" is `first_eval <= E < until_eval` within E's chain.

create table finding_keys (
    id bigint generated always as identity primary key,
    -- SHA-256 of assignment, control, reference id and resource id, each
    -- followed by a newline (as findings::evaluate::key_hash computes it).
    key_hash bytea not null,
    assignment_id text not null,
    control text not null,
    -- The initiative member's reference id; empty for a definition.
    reference_id text not null default '',
    -- Lower-case ARM id, its last segment, its type, its subscription.
    resource_id text not null,
    resource_name text not null,
    resource_type text not null,
    subscription_id text,
    constraint finding_keys_hash unique (key_hash)
);
create index finding_keys_by_resource on finding_keys (resource_id text_pattern_ops);
create trigger finding_keys_immutable before update or delete on finding_keys
    for each row execute function snapshot_refuse_change();

create table finding_spans (
    id bigint generated always as identity primary key,
    finding_id bigint not null references finding_keys (id),
    chain text not null,
    first_eval bigint not null,
    until_eval bigint,
    -- As shown (Exempt when an exemption applies) and underneath.
    state text not null,
    base_state text not null,
    severity text not null,
    severity_rank smallint not null,
    area text not null,
    effect text,
    -- Copied from the key: the list's filters and order read spans alone.
    control text not null,
    resource_id text not null,
    resource_name text not null,
    subscription_id text,
    -- SHA-256 of the state underneath and the evidence (finding_evidence).
    evidence_hash bytea not null,
    exemption_id bigint references exemptions (id),
    -- The delta at first_eval; within the span every later evaluation of
    -- the chain sees it unchanged.
    delta text not null,
    -- When the state underneath first appeared (first seen): survives an
    -- exemption being approved and revoked.
    since timestamptz not null,
    -- SHA-256 of everything shown (state, effect, severity, area, exemption,
    -- evidence): equal means unchanged, nothing to write.
    version_hash bytea not null,
    constraint finding_spans_state check (state in ('NonCompliant', 'Compliant', 'Error', 'Conflicting', 'Protected', 'Exempt', 'Unknown')),
    constraint finding_spans_delta check (delta in ('new', 'unchanged', 'changed', 'resolved')),
    constraint finding_spans_range check (until_eval is null or until_eval > first_eval)
) with (fillfactor = 90);

-- The list reads one evaluation of one chain in (severity, control,
-- resource name) order; spans outside the evaluation are skipped.
create index finding_spans_in_order on finding_spans (chain, severity_rank, control, resource_name, finding_id);
create index finding_spans_by_state on finding_spans (chain, state, severity_rank, control, resource_name, finding_id);
create index finding_spans_by_control on finding_spans (chain, control, severity_rank, resource_name, finding_id);
create index finding_spans_by_name on finding_spans (chain, resource_name text_pattern_ops);
create index finding_spans_by_id on finding_spans (chain, resource_id text_pattern_ops);
create index finding_spans_by_finding on finding_spans (finding_id, first_eval);

-- Spans are append-only but for being closed, once.
create function finding_spans_close_only() returns trigger
language plpgsql as $$
begin
    if tg_op <> 'UPDATE' or old.until_eval is not null or new.until_eval is null
       or (to_jsonb(new) - 'until_eval') <> (to_jsonb(old) - 'until_eval') then
        raise exception 'finding_spans: only closing an open span is allowed (% refused)', tg_op
            using errcode = 'insufficient_privilege';
    end if;
    return new;
end
$$;
create trigger finding_spans_close_only before update or delete on finding_spans
    for each row execute function finding_spans_close_only();

-- Evaluations name their chain.
alter table evaluations add column chain text;
create index evaluations_by_chain on evaluations (chain, id);

-- Existing findings move over. Each scope's current evaluation becomes the
-- head of its scope's chain; every earlier evaluation stays readable as a
-- chain of its own ('~evaluation <id>'), stored as fully as it was.
alter table evaluations disable trigger evaluations_immutable;
update evaluations e
   set chain = case when e.id in (select id from current_evaluations)
                    then (select s.scope_key from snapshots s where s.id = e.snapshot_id)
                    else '~evaluation ' || e.id end;
alter table evaluations enable trigger evaluations_immutable;
alter table evaluations alter column chain set not null;

insert into finding_keys (key_hash, assignment_id, control, reference_id, resource_id, resource_name, resource_type,
                          subscription_id)
select distinct on (resource_id, control, assignment_id, reference_id)
       sha256(convert_to(assignment_id || E'\n' || control || E'\n' || reference_id || E'\n' || resource_id || E'\n',
                         'UTF8')),
       assignment_id, control, reference_id, resource_id, resource_name, resource_type, subscription_id
  from findings
 order by resource_id, control, assignment_id, reference_id, evaluation_id desc;

-- An Exempt finding's state underneath was not stored; exemptions are
-- requested for failing findings, so NonCompliant is what it was.
insert into finding_spans (finding_id, chain, first_eval, state, base_state, severity, severity_rank, area, effect,
                           control, resource_id, resource_name, subscription_id, evidence_hash, exemption_id, delta,
                           since, version_hash)
select k.id, e.chain, f.evaluation_id, f.state,
       case when f.state = 'Exempt' then 'NonCompliant' else f.state end,
       f.severity, f.severity_rank, f.area, f.effect, f.control, f.resource_id, f.resource_name, f.subscription_id,
       f.evidence_hash, f.exemption_id, f.delta, f.first_seen,
       sha256(convert_to(f.state || E'\n' || coalesce(f.effect, '') || E'\n' || f.severity || E'\n' || f.area
                         || E'\n' || coalesce(f.exemption_id::text, '') || E'\n', 'UTF8') || f.evidence_hash)
  from findings f
  join evaluations e on e.id = f.evaluation_id
  join finding_keys k on k.resource_id = f.resource_id and k.control = f.control
                     and k.assignment_id = f.assignment_id and k.reference_id = f.reference_id;

-- Exemptions and their bindings point at the identity.
alter table exemptions drop constraint exemptions_finding_id_fkey;
alter table exemption_bindings drop constraint exemption_bindings_finding_id_fkey;
update exemptions x set finding_id = k.id
  from findings f join finding_keys k on k.resource_id = f.resource_id and k.control = f.control
                                      and k.assignment_id = f.assignment_id and k.reference_id = f.reference_id
 where f.id = x.finding_id;
alter table exemption_bindings disable trigger exemption_bindings_immutable;
update exemption_bindings b set finding_id = k.id
  from findings f join finding_keys k on k.resource_id = f.resource_id and k.control = f.control
                                      and k.assignment_id = f.assignment_id and k.reference_id = f.reference_id
 where f.id = b.finding_id;
alter table exemption_bindings enable trigger exemption_bindings_immutable;
alter table exemptions add constraint exemptions_finding_id_fkey foreign key (finding_id) references finding_keys (id);
alter table exemption_bindings add constraint exemption_bindings_finding_id_fkey
    foreign key (finding_id) references finding_keys (id);

drop view current_evaluations;
drop table findings;

-- The head of every scope's chain: the current evaluation of the newest
-- evaluated snapshot of each scope (detached chains are not current).
create view current_evaluations as
select max(id) as id, chain from evaluations where chain not like '~%' group by chain;
