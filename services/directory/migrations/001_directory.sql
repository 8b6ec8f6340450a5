-- The directory: every entity's current state (one row each, never deleted), and who changed what.
create table entities (
    kind        text        not null check (kind in ('network', 'association', 'bank', 'contact')),
    id          text        not null,
    state       jsonb       not null,
    active      boolean     not null,
    version     integer     not null check (version >= 1),
    updated_at  timestamptz not null,
    primary key (kind, id)
);
-- Lists filter on the state (`state @> '{"network_id": "…"}'`).
create index entities_by_state on entities using gin (state jsonb_path_ops);

create table audit (
    id          bigserial   primary key,
    kind        text        not null,
    entity_id   text        not null,
    at          timestamptz not null,
    actor       text        not null,
    actor_role  text        not null,
    action      text        not null,
    before      jsonb,
    after       jsonb       not null
);
create index audit_of_entity on audit (kind, entity_id, id);

-- Files routed to a bank, from the applications stream: those not decided nor withdrawn wait for the bank.
create table routed_files (
    application_id  uuid        primary key,
    bank_id         text        not null,
    closed          boolean     not null default false
);
create index routed_files_waiting on routed_files (bank_id) where not closed;
