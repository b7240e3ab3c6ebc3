-- Access review campaigns: a scope as of a snapshot, one item per role
-- assignment that gives access to an AI account in it, each decided and the
-- whole certified. Every change is audited in the same transaction; a
-- certified campaign is read-only (a trigger refuses changes to its items).

create table review_campaigns (
    id bigserial primary key,
    name text not null check (length(name) between 1 and 200),
    -- '/', a subscription, a resource group or an account (lower case).
    scope text not null check (scope = '/' or scope like '/subscriptions/%'),
    snapshot_id uuid not null references snapshots (id),
    created_by text not null,
    created_at timestamptz not null default now(),
    -- What the snapshot could not read (graph, pim): the review is incomplete there.
    gaps text[] not null default '{}',
    certified_by text,
    certified_at timestamptz,
    certify_comment text,
    check ((certified_by is null) = (certified_at is null))
);

create table review_items (
    id bigserial primary key,
    campaign_id bigint not null references review_campaigns (id),
    -- The role assignment's ARM id as the snapshot has it, and its document's
    -- hash: a later campaign carries a decision forward only while both it
    -- and the principal's record are unchanged.
    assignment_id text not null,
    assignment_hash bytea not null,
    principal_hash bytea,
    principal_id text not null,
    principal_name text not null,
    -- user, group, service_principal, device, other.
    principal_kind text not null,
    role text not null,
    role_definition_id text not null,
    scope text not null,
    -- The names of the accounts in the campaign's scope it reaches, and the
    -- flags it raises there (control names).
    accounts text[] not null,
    flags text[] not null,
    -- The strongest level it gives, for reading at a glance.
    level text not null,
    decision text check (decision in ('keep', 'revoke', 'change', 'dont_know', 'out_of_scope')),
    new_role text,
    new_scope text,
    comment text,
    decided_by text,
    decided_at timestamptz,
    -- The decision of the last certified campaign on the same, unchanged
    -- assignment: proposed, not taken, until someone confirms it.
    suggested text,
    suggested_from bigint references review_campaigns (id),
    unique (campaign_id, assignment_id),
    check ((decision is null) = (decided_at is null))
);

create index review_items_by_assignment on review_items (lower(assignment_id));

create function review_items_frozen() returns trigger language plpgsql as $$
begin
    if exists (select 1 from review_campaigns where id = old.campaign_id and certified_at is not null) then
        raise exception 'review campaign % is certified and read-only', old.campaign_id
            using errcode = 'check_violation';
    end if;
    return new;
end $$;

create trigger review_items_frozen before update or delete on review_items
    for each row execute function review_items_frozen();
