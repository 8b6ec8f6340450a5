-- Plumbing tables every service schema carries: the transactional outbox and the idempotent inbox.

-- Events written in the same transaction as the state change; the relay publishes and deletes them.
create table outbox (
    id          bigint generated always as identity primary key,
    event_id    uuid        not null unique,
    event_type  text        not null,
    topic       text        not null,
    key         text        not null,
    payload     bytea       not null,
    headers     jsonb       not null default '{}'::jsonb,
    created_at  timestamptz not null default now()
);

-- Event ids already applied by a consumer, recorded in the transaction that applied them.
create table inbox (
    consumer    text        not null,
    event_id    uuid        not null,
    event_type  text        not null,
    applied_at  timestamptz not null default now(),
    primary key (consumer, event_id)
);
