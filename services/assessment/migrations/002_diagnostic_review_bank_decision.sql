-- Issue 3: the full file, the diagnostic and its checks, the FICP consultation, the counsellor's review,
-- the routing to a partner bank, the bank's decision with the FCS guarantee, the overdue timer, the audit trail.
alter table assessments
    add column branch_id                 text,
    add column applicant_name            text,
    add column birth_date                date,
    add column project                   jsonb,
    add column referral_source           text,
    add column documents                 jsonb,
    add column incomplete_reason         text,
    add column household                 jsonb,
    add column resources                 jsonb,
    add column charges                   jsonb,
    add column diagnostic                jsonb,
    add column checks                    jsonb       not null default '[]',
    add column ficp                      jsonb,
    add column outcome                   text,
    add column reason_codes              jsonb       not null default '[]',
    add column orientation               text,
    add column missing_items             jsonb       not null default '[]',
    add column assessed_by               text,
    add column routed_at                 timestamptz,
    add column decision                  text,
    add column approved_amount_cents     integer,
    add column approved_annual_rate      numeric(9, 6),
    add column approved_duration_months  integer,
    add column first_due_date            date,
    add column guarantee_share           numeric(4, 3),
    add column guaranteed_amount_cents   integer,
    add column decided_by                text,
    add column overdue_raised_at         timestamptz;

-- Files assessed before this migration: the diagnostic they were given, and the new state names
-- (a favourable file was routed to its bank at once).
update assessments set diagnostic = jsonb_build_object(
    'monthly_resources_cents', monthly_resources_cents,
    'monthly_charges_cents', monthly_charges_cents,
    'monthly_instalment_cents', monthly_instalment_cents,
    'remaining_after_instalment_cents', remaining_after_instalment_cents
);
alter table assessments alter column diagnostic set not null;
update assessments set outcome = 'favourable', routed_at = assessed_at, status = 'routed' where status = 'favourable';
update assessments set outcome = 'favourable', routed_at = assessed_at where status in ('approved', 'declined');
update assessments set outcome = 'unfavourable' where status = 'unfavourable';
update assessments set decision = 'approve' where status = 'approved';
update assessments set decision = 'decline' where status = 'declined';

create index assessments_by_bank on assessments (bank_id, status) where bank_id is not null;
create index assessments_awaiting_bank on assessments (routed_at) where status = 'routed' and overdue_raised_at is null;

-- Who changed which file, when, and how: one row per change of state, never updated.
create table assessment_audit (
    id              bigserial primary key,
    application_id  uuid        not null,
    at              timestamptz not null,
    actor           text        not null,
    actor_role      text        not null,
    action          text        not null,
    details         jsonb       not null default '{}'
);
create index assessment_audit_by_file on assessment_audit (application_id, id);
