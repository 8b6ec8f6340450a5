-- Dead letters of the service's own consumer groups, kept for ops to replay or discard (shared/deadletters.py).

-- One row per record of the dead-letter topic naming one of the service's groups: stored once per
-- dead-letter record (its own coordinates are unique), with the original bytes to replay them.
create table dead_letters (
    id                  uuid        primary key,
    dlq_topic           text        not null,
    dlq_partition       integer     not null,
    dlq_offset          bigint      not null,
    consumer_group      text        not null,
    reason              text        not null,
    detail              text        not null default '',
    original_topic      text,
    original_partition  integer,
    original_offset     bigint,
    event_type          text,
    event_id            uuid,
    trace_id            text,
    key                 bytea,
    value               bytea       not null,
    header_names        text[]      not null,
    header_values       bytea[]     not null,
    dead_lettered_at    timestamptz not null,
    replay_of           uuid,
    status              text        not null default 'pending' check (status in ('pending', 'replayed', 'discarded')),
    stored_at           timestamptz not null default now(),
    unique (dlq_topic, dlq_partition, dlq_offset)
);
create index dead_letters_by_status on dead_letters (status, consumer_group, dead_lettered_at);

-- Who replayed or discarded which dead letter, when and why; for a replay, where the record went.
create table dead_letter_audit (
    id                  bigint      generated always as identity primary key,
    dead_letter_id      uuid        not null references dead_letters (id),
    action              text        not null check (action in ('replayed', 'discarded')),
    actor               text        not null,
    at                  timestamptz not null,
    why                 text,
    published_partition integer,
    published_offset    bigint
);
create index dead_letter_audit_by_dead_letter on dead_letter_audit (dead_letter_id, id);
