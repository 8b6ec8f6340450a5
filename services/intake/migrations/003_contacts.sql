-- First contacts: where a person came from and what came of it, before any file exists. No name and no
-- personal data (they only feed the funnel); each outcome has its own fields and only those.
create table contacts (
    id              uuid        primary key,
    association_id  text        not null,
    branch_id       text,
    region          text        not null,
    referral_source text        not null
        check (referral_source in ('banque_de_france', 'point_conseil_budget', 'ccas', 'social_worker', 'self', 'other')),
    outcome         text        not null check (outcome in ('appointment', 'oriented', 'not_eligible')),
    appointment_on  date,
    oriented_to     text        check (char_length(oriented_to) between 1 and 100 and btrim(oriented_to) <> ''),
    reason          text        check (reason in ('over_indebted', 'no_repayment_capacity', 'need_not_covered', 'other')),
    note            text        check (char_length(note) between 1 and 500),
    counsellor_id   text        not null,
    created_at      timestamptz not null,
    constraint contacts_appointment check (
        outcome <> 'appointment' or (oriented_to is null and reason is null and note is null)),
    constraint contacts_oriented check (
        outcome <> 'oriented' or (oriented_to is not null and appointment_on is null and reason is null and note is null)),
    constraint contacts_not_eligible check (
        outcome <> 'not_eligible' or (reason is not null and appointment_on is null and oriented_to is null))
);
-- An association's list, newest first; the funnel's counts by day.
create index contacts_by_association on contacts (association_id, created_at desc, id);
create index contacts_by_period on contacts (created_at, association_id, region);
