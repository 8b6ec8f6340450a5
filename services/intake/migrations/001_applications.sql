-- Applications as the counsellor submitted them.
create table applications (
    id                       uuid primary key,
    association_id           text        not null,
    region                   text        not null,
    counsellor_id            text        not null,
    applicant_name           text        not null,
    purpose                  text        not null,
    amount_cents             integer     not null check (amount_cents between 30000 and 800000),
    duration_months          integer     not null check (duration_months between 6 and 84),
    monthly_resources_cents  integer     not null check (monthly_resources_cents >= 0),
    monthly_charges_cents    integer     not null check (monthly_charges_cents >= 0),
    status                   text        not null,
    submitted_at             timestamptz not null
);
create index applications_by_association on applications (association_id, submitted_at);
