-- Loans created from bank approvals, their schedules, payments and missed instalments.
create table loans (
    id               uuid primary key,
    application_id   uuid          not null unique,
    association_id   text          not null,
    region           text          not null,
    counsellor_id    text          not null,
    bank_id          text          not null,
    amount_cents     integer       not null check (amount_cents > 0),
    annual_rate      numeric(9, 6) not null check (annual_rate >= 0),
    duration_months  integer       not null check (duration_months > 0),
    first_due_date   date          not null,
    guarantee_share  numeric(4, 3) not null,
    status           text          not null,
    payee            text,
    disbursed_on     date,
    created_at       timestamptz   not null
);

create table instalments (
    loan_id          uuid    not null references loans (id),
    number           integer not null,
    due_date         date    not null,
    principal_cents  integer not null,
    interest_cents   integer not null,
    amount_cents     integer not null,
    remaining_principal_cents integer not null,
    paid_cents       integer not null default 0 check (paid_cents between 0 and amount_cents),
    primary key (loan_id, number)
);
-- The close of business only looks at instalments not fully paid.
create index instalments_unpaid_by_due_date on instalments (due_date) where paid_cents < amount_cents;

create table payments (
    id              uuid primary key,
    loan_id         uuid        not null references loans (id),
    bank_reference  text        not null,
    amount_cents    integer     not null check (amount_cents > 0),
    received_on     date        not null,
    recorded_at     timestamptz not null,
    unique (loan_id, bank_reference)
);

-- One row per instalment found missed: the unique key makes `payment missed` once per instalment.
create table missed_instalments (
    loan_id              uuid    not null,
    number               integer not null,
    business_date        date    not null,
    amount_unpaid_cents  integer not null,
    primary key (loan_id, number),
    foreign key (loan_id, number) references instalments (loan_id, number)
);
