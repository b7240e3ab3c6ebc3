-- Azure Policy definitions and initiatives imported unchanged (Azure's
-- built-ins, or a company's own), evaluated beside Attest's catalogue.
-- Importing one again replaces it; both are audited with the document's
-- SHA-256.
create table policy_definitions (
    -- Lower-case ARM id, e.g. /providers/microsoft.authorization/policydefinitions/<guid>.
    id text primary key,
    -- The last segment of the id: what findings name as their control.
    name text not null unique,
    display_name text not null,
    kind text not null,
    document jsonb not null,
    sha256 bytea not null,
    imported_by text not null,
    imported_at timestamptz not null default now(),
    constraint policy_definitions_kind check (kind in ('definition', 'initiative'))
);
