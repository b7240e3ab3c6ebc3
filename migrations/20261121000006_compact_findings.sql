-- Findings, smaller: storing them dominated evaluation (12.3 s of the
-- 5,000-account demo's evaluation, of which the engine took 1.8 s), and they
-- took about 4 KiB each.
--
-- * Evidence is stored once per distinct content, keyed by the hash the
--   finding already carries: most findings of a control share their
--   evidence word for word (the same paths, the same values).
-- * The list's indexes order by the resource's name, not its whole ARM id,
--   which is what the list shows and a tenth of the bytes.
-- * An initiative may hold one definition several times (Azure's content
--   filter initiative does, once per category), so a finding is keyed by
--   the member's reference id as well.
-- * One unique key, led by the evaluation, serves the delta against the
--   previous evaluation, the resource-id prefix filter and a finding's
--   history (probed per evaluation), so two indexes go.

create table finding_evidence (
    -- SHA-256 of the state and the evidence (findings.evidence_hash).
    hash bytea primary key,
    -- {"reasons": [...], "message": ...}: the paths and values that decided.
    evidence jsonb not null
);
create trigger finding_evidence_immutable before update or delete on finding_evidence
    for each row execute function snapshot_refuse_change();

insert into finding_evidence (hash, evidence)
select distinct on (evidence_hash) evidence_hash, evidence from findings order by evidence_hash;

drop index findings_in_order;
drop index findings_by_state;
drop index findings_by_control;
drop index findings_by_id_prefix;
drop index findings_by_resource;
alter table findings drop constraint findings_key;
alter table findings drop column evidence;
alter table findings add column reference_id text not null default '';
-- The evaluator writes the resource's name; a regular expression per row
-- cost 5 µs of each insert.
alter table findings alter column resource_name drop expression;
-- A finding's parents (its snapshot, its evaluation, its evidence) are
-- append-only — triggers refuse UPDATE and DELETE — and the one writer of
-- findings inserts them in the same transaction first. Foreign keys would
-- guard nothing more, at the price of a lookup per finding on every insert.
alter table findings drop constraint findings_snapshot_id_fkey;
alter table findings drop constraint findings_evaluation_id_fkey;

create unique index findings_key on findings
    (evaluation_id, resource_id text_pattern_ops, control, assignment_id, reference_id);
create index findings_in_order on findings (evaluation_id, severity_rank, control, resource_name, id);
create index findings_by_state on findings (evaluation_id, state, severity_rank, control, resource_name, id);
create index findings_by_control on findings (evaluation_id, control, severity_rank, resource_name, id);
