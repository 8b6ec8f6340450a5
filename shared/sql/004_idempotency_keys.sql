-- The Idempotency-Key of the service's POSTs (shared/idempotency.py): the first answer, replayed to a retry.

-- One row per key, scoped by the caller (the token's subject) and the request's path. While the first
-- request runs, `status` is null and the key is held until `locked_until` (a process that died mid-request
-- lets go of it then); once answered (below 500), the answer is kept until `expires_at`.
create table idempotency_keys (
    caller        text        not null,
    path          text        not null,
    key           text        not null,
    fingerprint   bytea       not null,
    status        integer,
    headers       jsonb,
    body          bytea,
    locked_until  timestamptz not null,
    expires_at    timestamptz not null,
    primary key (caller, path, key)
);
create index idempotency_keys_by_expiry on idempotency_keys (expires_at);
