-- Compact snapshot membership. A document now carries what it is (kind,
-- ARM id, account) and a short numeric id; a snapshot lists its documents
-- as one sorted array of those ids per kind. Daily usage rows become
-- content-addressed too. A snapshot of an unchanged estate then costs 8
-- bytes per resource and per usage day instead of a full row with three
-- indexes (BENCHMARKS.md: re-import growth).
--
-- snapshot_resources and snapshot_usage remain as views of the same shape,
-- so readers are unchanged.

alter table documents disable trigger documents_immutable;

alter table documents
    add column id bigint generated always as identity,
    add column kind text,
    add column resource_id text,
    add column account_id text;

update documents d
   set kind = r.kind, resource_id = r.resource_id, account_id = r.account_id
  from (select distinct on (document_hash) document_hash, kind, resource_id, account_id
          from snapshot_resources order by document_hash, snapshot_id) r
 where d.hash = r.document_hash;

-- A document no snapshot references cannot exist (imports are atomic); be sure.
delete from documents where kind is null;

alter table documents enable trigger documents_immutable;

alter table documents
    alter column kind set not null,
    alter column resource_id set not null,
    add constraint documents_id_key unique (id);
create index documents_resource_idx on documents (resource_id);

-- One row per distinct (account, deployment, day, figures), addressed by the
-- SHA-256 of 'account|deployment|YYYY-MM-DD|prompt|completion|total|requests'.
create table usage_days (
    id bigint generated always as identity,
    hash bytea primary key,
    account_id text not null,
    deployment text not null,
    day date not null,
    prompt_tokens bigint not null,
    completion_tokens bigint not null,
    total_tokens bigint not null,
    requests bigint not null,
    constraint usage_days_id_key unique (id),
    constraint usage_days_hash_length check (octet_length(hash) = 32)
);

insert into usage_days (hash, account_id, deployment, day, prompt_tokens, completion_tokens, total_tokens, requests)
select distinct on (h) h, account_id, deployment, day, prompt_tokens, completion_tokens, total_tokens, requests
  from (select sha256(convert_to(account_id || '|' || deployment || '|' || to_char(day, 'YYYY-MM-DD') || '|'
                                 || prompt_tokens || '|' || completion_tokens || '|' || total_tokens || '|' || requests,
                                 'UTF8')) as h, *
          from snapshot_usage) u
 order by h;

-- A snapshot's members: per kind (or 'usage'), the sorted ids of its
-- documents (of its usage_days rows for 'usage').
create table snapshot_members (
    snapshot_id uuid not null references snapshots (id),
    kind text not null,
    ids bigint[] not null,
    constraint snapshot_members_pkey primary key (snapshot_id, kind)
);

insert into snapshot_members (snapshot_id, kind, ids)
select r.snapshot_id, r.kind, array_agg(d.id order by d.id)
  from snapshot_resources r join documents d on d.hash = r.document_hash
 group by r.snapshot_id, r.kind;

insert into snapshot_members (snapshot_id, kind, ids)
select u.snapshot_id, 'usage', array_agg(ud.id order by ud.id)
  from snapshot_usage u
  join usage_days ud on ud.hash = sha256(convert_to(u.account_id || '|' || u.deployment || '|' || to_char(u.day, 'YYYY-MM-DD')
                                        || '|' || u.prompt_tokens || '|' || u.completion_tokens || '|' || u.total_tokens
                                        || '|' || u.requests, 'UTF8'))
 group by u.snapshot_id;

drop table snapshot_resources;
drop table snapshot_usage;

create view snapshot_resources as
select m.snapshot_id, m.kind, d.resource_id, d.account_id, d.hash as document_hash
  from snapshot_members m
 cross join lateral unnest(m.ids) as member(id)
  join documents d on d.id = member.id
 where m.kind <> 'usage';

create view snapshot_usage as
select m.snapshot_id, u.account_id, u.deployment, u.day, u.prompt_tokens, u.completion_tokens, u.total_tokens,
       u.requests
  from snapshot_members m
 cross join lateral unnest(m.ids) as member(id)
  join usage_days u on u.id = member.id
 where m.kind = 'usage';

create trigger snapshot_members_immutable before update or delete on snapshot_members
    for each row execute function snapshot_refuse_change();
create trigger usage_days_immutable before update or delete on usage_days
    for each row execute function snapshot_refuse_change();
