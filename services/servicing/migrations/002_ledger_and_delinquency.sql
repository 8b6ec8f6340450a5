-- Loan servicing in depth: a summary per loan for the close of business, interest/principal split of
-- what is paid, schedule history, adjustments, reversals and close-of-business runs.

alter table loans
    add column instalment_day               integer check (instalment_day between 1 and 31),
    add column schedule_version             integer not null default 1,
    add column principal_outstanding_cents  integer,
    add column days_past_due                integer not null default 0,
    add column delinquency_stage            text    not null default 'current',
    add column arrears_cents                integer not null default 0,
    add column closed_on                    date,
    add column written_off_on               date;
update loans set principal_outstanding_cents = amount_cents where principal_outstanding_cents is null;
alter table loans alter column principal_outstanding_cents set not null;
-- The close of business visits active loans only.
create index loans_active on loans (id) where status = 'active';

-- `paid_cents` stays the total paid of an instalment (= interest_paid_cents + principal_paid_cents).
alter table instalments
    add column interest_paid_cents  integer not null default 0,
    add column principal_paid_cents integer not null default 0,
    add column missed_on            date;
update instalments set principal_paid_cents = paid_cents where paid_cents > 0;
alter table instalments
    add constraint instalments_paid_split check (paid_cents = interest_paid_cents + principal_paid_cents);
-- Rescheduling replaces the unpaid lines of the current schedule; the missed record stays as history.
alter table missed_instalments drop constraint missed_instalments_loan_id_number_fkey;

-- Every schedule a loan has had, as it stood when it was replaced (version 1 = the original).
create table schedule_versions (
    loan_id        uuid        not null references loans (id),
    version        integer     not null,
    adjustment_id  uuid,
    created_at     timestamptz not null,
    lines          jsonb       not null,
    primary key (loan_id, version)
);

create table adjustments (
    id             uuid primary key,
    loan_id        uuid        not null references loans (id),
    kind           text        not null check (kind in ('pause', 'extension', 'lower_instalment')),
    terms          jsonb       not null,
    reason         text        not null,
    requested_by   text        not null,
    requested_at   timestamptz not null,
    status         text        not null default 'requested' check (status in ('requested', 'accepted', 'refused')),
    answered_by    text,
    answered_at    timestamptz,
    answer_reason  text,
    schedule_version integer
);
-- One open request per loan at a time.
create unique index adjustments_one_open on adjustments (loan_id) where status = 'requested';

alter table payments
    add column kind              text    not null default 'payment',
    add column interest_cents    integer not null default 0,
    add column principal_cents   integer not null default 0,
    add column overpaid_cents    integer not null default 0,
    add column allocations       jsonb   not null default '[]'::jsonb,
    add column reversed_at       timestamptz,
    add column reversal_reason   text;

-- One row per close-of-business run and business date; a re-run of a finished date does nothing.
create table cob_runs (
    business_date  date primary key,
    started_at     timestamptz not null,
    finished_at    timestamptz,
    missed         integer not null default 0,
    stage_changes  integer not null default 0,
    written_off    integer not null default 0
);
