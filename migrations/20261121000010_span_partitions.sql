-- Each evaluation chain's spans in a partition of their own.
--
-- The first evaluation of a scope writes a span for every finding: 1.8 M of
-- them for the 5,000-account benchmark estate. Inserted into one table with
-- six indexes, each row cost its six index entries inserted one by one
-- (126-144 s of a 190 s first import). Measured with psql on this machine,
-- the same 1.8 M rows take 213 s inserted into the indexed table and 34 s
-- inserted into a bare table whose indexes are built afterwards.
--
-- So `finding_spans` is partitioned by chain. A chain's first evaluation
-- fills a bare table (`finding_spans_stage`), and attaching it
-- (`finding_spans_attach`) builds its indexes in one sorted pass each. Later
-- evaluations of the chain insert the few spans that changed through the
-- parent, as before. Within a partition the chain is one value, so the
-- indexes no longer lead with it (139 characters on average, in every entry
-- of every index).
--
-- Also:
-- * `finding_keys_by_resource` goes: no query looks keys up by resource
--   (they read the spans' resource ids), and it cost 20 of the 37 s that
--   1.6 M keys took to insert.
-- * No foreign key from a span to its key: keys are append-only (a trigger
--   refuses UPDATE and DELETE) and the evaluator inserts a span's key first
--   in the same transaction, so the check guarded nothing, at a lookup per
--   span (as migration 0006 reasoned for findings).

drop index finding_keys_by_resource;

alter table finding_spans rename to finding_spans_0009;
drop trigger finding_spans_close_only on finding_spans_0009;
alter table finding_spans_0009 drop constraint finding_spans_pkey;
drop index finding_spans_in_order, finding_spans_by_state, finding_spans_by_control, finding_spans_by_name,
           finding_spans_by_id, finding_spans_by_finding;
alter table finding_spans_0009 alter column id drop identity;

-- Span ids stay unique across partitions: one sequence numbers them all.
create sequence finding_spans_id_seq;
select setval('finding_spans_id_seq', coalesce((select max(id) from finding_spans_0009), 0) + 1, false);

create table finding_spans (
    id bigint not null default nextval('finding_spans_id_seq'),
    finding_id bigint not null,
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
    exemption_id bigint constraint finding_spans_exemption references exemptions (id),
    -- The delta at first_eval; within the span every later evaluation of
    -- the chain sees it unchanged.
    delta text not null,
    -- When the state underneath first appeared (first seen).
    since timestamptz not null,
    -- SHA-256 of everything shown: equal means unchanged, nothing to write.
    version_hash bytea not null,
    constraint finding_spans_state check (state in ('NonCompliant', 'Compliant', 'Error', 'Conflicting', 'Protected', 'Exempt', 'Unknown')),
    constraint finding_spans_delta check (delta in ('new', 'unchanged', 'changed', 'resolved')),
    constraint finding_spans_range check (until_eval is null or until_eval > first_eval)
) partition by list (chain);
alter sequence finding_spans_id_seq owned by finding_spans.id;

-- The list reads one evaluation of one chain (one partition) in (severity,
-- control, resource name) order; spans outside the evaluation are skipped.
create index finding_spans_in_order on finding_spans (severity_rank, control, resource_name, finding_id);
create index finding_spans_by_state on finding_spans (state, severity_rank, control, resource_name, finding_id);
create index finding_spans_by_control on finding_spans (control, severity_rank, resource_name, finding_id);
create index finding_spans_by_name on finding_spans (resource_name text_pattern_ops);
create index finding_spans_by_id on finding_spans (resource_id text_pattern_ops);
create index finding_spans_by_finding on finding_spans (finding_id, first_eval);
-- Closing a span finds it by id (unique by the sequence).
create index finding_spans_by_span on finding_spans (id);

create trigger finding_spans_close_only before update or delete on finding_spans
    for each row execute function finding_spans_close_only();

-- Which partition holds which chain.
create table finding_span_partitions (
    chain text primary key,
    relation text not null unique
);
create sequence finding_span_partitions_seq;

-- A bare table for `chain`'s spans, to be filled and then attached; returns
-- its name. Called by a chain's first evaluation.
create function finding_spans_stage(chain text) returns text
language plpgsql as $$
declare
    relation text := 'finding_spans_' || nextval('finding_span_partitions_seq');
begin
    -- The check, added while the table is empty, tells the attach that
    -- every row belongs to the chain, so it does not scan them again.
    execute format('create table %I (like finding_spans including defaults including constraints,
                                     constraint %I check (chain = %L))
                    with (fillfactor = 90)', relation, relation || '_chain', chain);
    insert into finding_span_partitions values (chain, relation);
    return relation;
end
$$;

-- Attaches `chain`'s staged table as its partition: PostgreSQL builds each
-- of the parent's indexes on it and adds the parent's trigger.
create function finding_spans_attach(chain text) returns text
language plpgsql as $$
declare
    staged text := (select p.relation from finding_span_partitions p where p.chain = finding_spans_attach.chain);
begin
    if staged is null then
        raise exception 'finding_spans_attach: chain % was not staged', chain;
    end if;
    execute format('alter table finding_spans attach partition %I for values in (%L)', staged, chain);
    return staged;
end
$$;

-- Existing spans move over, a partition per chain; every chain has one,
-- even a chain whose evaluations found nothing, so that a later evaluation
-- of it has where to write.
do $$
declare
    c text;
    relation text;
begin
    for c in select e.chain from evaluations e union select s.chain from finding_spans_0009 s order by 1 loop
        relation := finding_spans_stage(c);
        execute format('insert into %I select id, finding_id, chain, first_eval, until_eval, state, base_state,
                               severity, severity_rank, area, effect, control, resource_id, resource_name,
                               subscription_id, evidence_hash, exemption_id, delta, since, version_hash
                          from finding_spans_0009 where chain = %L', relation, c);
        perform finding_spans_attach(c);
    end loop;
end
$$;
drop table finding_spans_0009;
