-- Each data subject's AES-256 data key, wrapped by the platform's key-encryption key. One schema for the whole
-- platform, outside Kafka; a destroyed key leaves a tombstone (wrapped is null) so that it is never made again.
select pg_advisory_xact_lock(hashtext('keyring'));
create schema if not exists keyring;
create table if not exists keyring.data_keys (
    subject_id   uuid        primary key,
    wrapped      bytea,
    created_at   timestamptz not null,
    destroyed_at timestamptz,
    constraint data_keys_destroyed check ((wrapped is null) = (destroyed_at is not null))
);
