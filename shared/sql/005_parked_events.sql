-- Events that arrived before what they refer to (a bank's payment for a loan not opened yet, a decision
-- before the routing): kept aside so their partition flows, applied in order per key when the missing
-- piece arrives, dead-lettered once they waited longer than the consumer's parking delay (shared/consumer.py).
create table parked_events (
    id            bigint generated always as identity primary key,
    consumer      text        not null,
    key           text        not null,
    event_id      uuid        not null,
    event_type    text        not null,
    topic         text        not null,
    partition     integer     not null,
    kafka_offset  bigint      not null,
    record_key    bytea,
    payload       bytea       not null,
    header_names  text[]      not null,
    header_values text[]      not null,
    reason        text        not null,
    parked_at     timestamptz not null,
    attempts      integer     not null default 0,
    unique (consumer, event_id)
);
create index parked_events_by_key on parked_events (consumer, key, id);
