-- A campaign's due date and what happens to what is still undecided then
-- (core/reviews/due.rs): a reminder a few days before, and at the date the
-- stated policy decides the open items, marked as not reviewed, and the
-- campaign is certified by Attest itself, all audited.

alter table review_campaigns
    add column due_at timestamptz,
    -- keep, revoke, or the recommendation (revoke what is flagged, keep the rest).
    add column on_due text not null default 'keep' check (on_due in ('keep', 'revoke', 'recommendation')),
    add column reminded_at timestamptz,
    -- Certified by the due-date policy rather than by a person.
    add column closed_at_due boolean not null default false;

-- Decided by the due-date policy, not by a reviewer.
alter table review_items add column not_reviewed boolean not null default false;

create index review_campaigns_due on review_campaigns (due_at) where certified_at is null and due_at is not null;
