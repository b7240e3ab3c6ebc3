-- A chain's first evaluation writes its staged spans, and builds their
-- indexes, on connections of their own.
--
-- Migration 0010 staged a chain's first spans in a table created inside the
-- evaluation's transaction: one PostgreSQL backend then inserted every
-- identity, then every span, then built the partition's seven indexes one
-- after another (17, 9 and 14 s of the 5,000-account estate's first
-- evaluation), while the machine's second core idled. A table created in
-- an open transaction is invisible to every other connection, so nothing
-- could help.
--
-- Now the evaluation's transaction only names and registers the staged
-- table, and holds a lock on its name; a second connection creates it,
-- fills it while the identities are written, and commits it; the indexes
-- are then built on two connections at once, and attaching the table finds
-- them built. The staged table is invisible to every query until the
-- evaluation commits its registration and attach. When an evaluation fails
-- after its table was created, the table is left behind, unregistered and
-- unlocked: the next chain's first evaluation drops it.

create or replace function finding_spans_stage(chain text) returns text
language plpgsql as $$
declare
    relation text := 'finding_spans_' || nextval('finding_span_partitions_seq');
begin
    -- Held until the evaluation ends: while it is, the table is not an orphan.
    perform pg_advisory_xact_lock(hashtextextended(relation, 11));
    insert into finding_span_partitions values (chain, relation);
    return relation;
end
$$;

-- The staged table itself, created (and committed) by another connection.
-- The check, added while the table is empty, tells the attach that every row
-- belongs to the chain, so it does not scan them again.
create function finding_spans_create_staged(relation text, chain text) returns void
language plpgsql as $$
begin
    execute format('create table %I (like finding_spans including defaults including constraints,
                                     constraint %I check (chain = %L))
                    with (fillfactor = 90)', relation, relation || '_chain', chain);
end
$$;

-- The statements that build, on `relation`, an index equal to each of the
-- parent's, so that attaching it adopts them instead of building its own.
create function finding_spans_staged_indexes(relation text) returns setof text
language sql stable as $$
    select regexp_replace(pg_get_indexdef(i.indexrelid),
                          '^CREATE INDEX \S+ ON ONLY \S+ ',
                          format('CREATE INDEX %I ON %I ', relation || '_' || c.relname, relation))
      from pg_index i join pg_class c on c.oid = i.indexrelid
     where i.indrelid = 'finding_spans'::regclass
     order by c.relname
$$;

-- Drops the staged tables of evaluations that failed: named like a
-- partition, neither attached nor registered, and not locked by a running
-- evaluation. Returns how many it dropped.
create function finding_spans_drop_orphans() returns integer
language plpgsql as $$
declare
    r text;
    n integer := 0;
begin
    for r in
        select c.relname from pg_class c
         where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' and not c.relispartition
           and c.relname ~ '^finding_spans_[0-9]+$'
           and not exists (select 1 from finding_span_partitions p where p.relation = c.relname)
    loop
        if pg_try_advisory_xact_lock(hashtextextended(r, 11)) then
            execute format('drop table %I', r);
            n := n + 1;
        end if;
    end loop;
    return n;
end
$$;
