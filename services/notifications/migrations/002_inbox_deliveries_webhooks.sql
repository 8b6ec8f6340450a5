-- Issue 5: alerts addressed to an audience, the inbox's actions, projections the rules read,
-- e-mail and webhook deliveries written in the alert's transaction (outboxes of deliveries).

-- One alert per cause and audience: the supervisors' escalation is its own alert.
alter table alerts drop constraint alerts_cause_event_id_key;
alter table alerts add column audience text not null default 'counsellor'
    check (audience in ('counsellor', 'association', 'supervisor'));
alter table alerts alter column audience drop default;
alter table alerts add constraint alerts_one_per_cause_and_audience unique (cause_event_id, audience);
alter table alerts
    add column escalate_at      timestamptz,
    add column escalated_at     timestamptz,
    add column acknowledged_at  timestamptz,
    add column acknowledged_by  text,
    add column resolved_at      timestamptz,
    add column resolved_by      text,
    add column resolution_note  text,
    add column snoozed_until    timestamptz,
    add column reminded_at      timestamptz;
create index alerts_by_association on alerts (association_id, raised_at desc);
create index alerts_to_escalate on alerts (escalate_at) where status = 'open' and escalated_at is null;
create index alerts_to_wake on alerts (snoozed_until) where status = 'snoozed';

-- What the rules remember of a loan: its latest stage and its run of missed instalments.
create table loan_followups (
    loan_id                 uuid primary key,
    application_id          uuid,
    stage                   text    not null,
    days_past_due           integer not null,
    stage_as_of             date,
    last_missed_instalment  integer,
    missed_streak           integer not null
);

-- Which bank a file went to, and the applicant's name for the counsellor's e-mails.
create table files (
    application_id  uuid primary key,
    bank_id         text,
    applicant_name  text
);

-- Files assessed incomplete, watched until their documents come in.
create table incomplete_files (
    application_id     uuid primary key,
    association_id     text        not null,
    region             text        not null,
    counsellor_id      text        not null,
    assessed_event_id  uuid        not null,
    missing_documents  text[]      not null,
    since              timestamptz not null,
    alerted_at         timestamptz
);

create table email_preferences (
    counsellor_id  text primary key,
    mode           text        not null check (mode in ('immediate', 'daily_digest')),
    digest_hour    integer     not null check (digest_hour between 0 and 23),
    updated_at     timestamptz not null
);

-- Alerts waiting for their counsellor's daily digest.
create table digest_items (
    counsellor_id  text        not null,
    alert_id       uuid        not null references alerts (id),
    added_at       timestamptz not null,
    primary key (counsellor_id, alert_id)
);

-- The e-mail outbox: rendered once, sent by the mailer with SELECT … FOR UPDATE SKIP LOCKED.
create table email_deliveries (
    id               uuid primary key,
    kind             text        not null check (kind in ('alert', 'reminder', 'digest', 'bank_contact')),
    alert_id         uuid,
    association_id   text,
    recipients       text[]      not null,
    subject          text        not null,
    body             text        not null,
    status           text        not null check (status in ('pending', 'sent', 'failed')),
    attempts         integer     not null default 0,
    next_attempt_at  timestamptz not null,
    last_error       text,
    created_at       timestamptz not null,
    sent_at          timestamptz
);
create index email_deliveries_due on email_deliveries (next_attempt_at) where status = 'pending';

create table webhook_subscriptions (
    id                    uuid primary key,
    bank_id               text        not null,
    url                   text        not null,
    event_types           text[]      not null,
    secret                text        not null,
    status                text        not null check (status in ('active', 'paused', 'deleted')),
    consecutive_failures  integer     not null default 0,
    created_at            timestamptz not null,
    paused_at             timestamptz,
    deleted_at            timestamptz
);
create index webhook_subscriptions_by_bank on webhook_subscriptions (bank_id) where status <> 'deleted';

-- The webhook outbox: one row per subscription and event, the body fixed at creation.
create table webhook_deliveries (
    id                uuid primary key,
    subscription_id   uuid        not null references webhook_subscriptions (id),
    event_id          uuid        not null,
    event_type        text        not null,
    body              bytea       not null,
    status            text        not null check (status in ('pending', 'delivered', 'failed')),
    attempts          integer     not null default 0,
    next_attempt_at   timestamptz not null,
    last_status_code  integer,
    last_error        text,
    created_at        timestamptz not null,
    delivered_at      timestamptz,
    unique (subscription_id, event_id)
);
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where status = 'pending';
create index webhook_deliveries_log on webhook_deliveries (subscription_id, created_at desc);

create table webhook_attempts (
    id            bigserial primary key,
    delivery_id   uuid        not null references webhook_deliveries (id),
    number        integer     not null,
    attempted_at  timestamptz not null,
    status_code   integer,
    error         text,
    latency_ms    integer     not null
);
create index webhook_attempts_of_delivery on webhook_attempts (delivery_id, number);
