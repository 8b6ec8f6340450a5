-- Alerts for counsellors; one per cause (the event that raised it).
create table alerts (
    id              uuid primary key,
    cause_event_id  uuid        not null unique,
    cause_type      text        not null,
    association_id  text        not null,
    region          text        not null,
    counsellor_id   text        not null,
    severity        text        not null,
    status          text        not null,
    loan_id         uuid,
    application_id  uuid,
    message         text        not null,
    raised_at       timestamptz not null
);
create index alerts_inbox on alerts (counsellor_id, status, raised_at desc);
