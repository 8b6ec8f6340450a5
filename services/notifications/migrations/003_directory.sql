-- Issue 9: notifications' copy of the directory (the addresses it needs), from the directory's snapshots;
-- each row keeps the newest version it was told, so a late or repeated snapshot changes nothing.
create table directory_contacts (
    username        text primary key,
    email           text    not null,
    role            text    not null,
    association_id  text,
    bank_id         text,
    active          boolean not null,
    version         integer not null
);
create index directory_contacts_of_association on directory_contacts (association_id, role) where active;
create index directory_contacts_of_bank on directory_contacts (bank_id, role) where active;

create table directory_associations (
    association_id  text primary key,
    shared_mailbox  text,
    active          boolean not null,
    version         integer not null
);

-- An e-mail is written for someone (the addressee); the address is looked up when the mailer sends it,
-- and `recipients` keeps the addresses it went to. Rows written before keep the recipients they had.
alter table email_deliveries
    add column addressee_kind  text check (addressee_kind in ('counsellor', 'association', 'supervisors', 'bank')),
    add column addressee_id    text,
    alter column recipients drop not null;
