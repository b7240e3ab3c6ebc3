-- Incremental evaluation (core/src/findings/incremental.rs).
--
-- An evaluation records the context it ran against (a SHA-256 of the
-- engine, the imported definitions, assignments, attestations, exemptions
-- and alias listing) and the two counts its compliance percentage is made
-- of. A later evaluation of the chain with the same context evaluates only
-- the resources whose documents changed and takes the rest of its totals
-- over from these. Evaluations made before have no context and are never
-- taken over from.
alter table evaluations
    add column context_hash bytea,
    add column resources_counted bigint,
    add column resources_passing bigint;

-- The documents that hang off an account, found from the account: what a
-- changed deployment or diagnostic setting makes the evaluator read again.
create index documents_by_account on documents (account_id) where account_id is not null;
