-- Issue 9: assessment's copy of the directory (what it needs of it), from the directory's snapshots;
-- each row keeps the newest version it was told, so a late or repeated snapshot changes nothing.
create table directory_networks (
    network_id                    text primary key,
    min_remaining_per_unit_cents  integer,
    max_instalment_share          numeric(5, 4),
    version                       integer not null
);

create table directory_associations (
    association_id  text primary key,
    network_id      text    not null,
    partner_banks   text[]  not null,
    bank_contact    text,
    active          boolean not null,
    version         integer not null
);

create table directory_banks (
    bank_id  text primary key,
    active   boolean not null,
    version  integer not null
);
