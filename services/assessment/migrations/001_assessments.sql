-- One assessment per submitted application: diagnostic, counsellor outcome, bank decision.
create table assessments (
    application_id                   uuid primary key,
    association_id                   text        not null,
    region                           text        not null,
    counsellor_id                    text        not null,
    purpose                          text        not null,
    requested_amount_cents           integer     not null,
    requested_duration_months        integer     not null,
    monthly_resources_cents          integer     not null,
    monthly_charges_cents            integer     not null,
    diagnostic_annual_rate           numeric(9, 6) not null,
    monthly_instalment_cents         integer     not null,
    remaining_after_instalment_cents integer     not null,
    status                           text        not null,
    opinion                          text,
    bank_id                          text,
    proposed_amount_cents            integer,
    proposed_duration_months         integer,
    proposed_annual_rate             numeric(9, 6),
    decision_reason                  text,
    received_at                      timestamptz not null,
    assessed_at                      timestamptz,
    decided_at                       timestamptz
);
create index assessments_queue on assessments (association_id, counsellor_id, status);
