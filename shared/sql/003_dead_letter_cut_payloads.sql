-- Dead letters whose payload was cut to fit the dead-letter topic (shared/oversized_dead_letters.py): `value` holds
-- the start of the payload; the full record stays on its original topic, at its original coordinates, and a
-- replay reads it from there (checked against the SHA-256 the consumer computed of the full payload).
alter table dead_letters
    add column value_truncated boolean not null default false,
    add column original_size   bigint,
    add column original_sha256 text;
