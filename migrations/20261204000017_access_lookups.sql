-- Effective access is computed when asked (core/access.rs); these let a
-- request for one account, or one principal, read only the role
-- assignments that can concern it instead of every assignment of the
-- snapshot (18 s for one account of the 500,000-assignment benchmark
-- estate without them). Candidates are found across every snapshot's
-- documents and kept when the snapshot's membership holds them.

-- By id prefix: an assignment's id starts with the scope it is made at.
create index documents_role_assignment_ids on documents (lower(resource_id) text_pattern_ops)
    where kind = 'role_assignment';

-- By the principal an assignment names.
create index documents_role_assignment_principals on documents (lower(body #>> '{properties,principalId}'))
    where kind = 'role_assignment';

-- Principal records (what Graph said) by object id.
create index documents_principal_records on documents (lower(body ->> 'id'))
    where kind = 'principal';
