-- The DPO's ledger: one row per data subject (a file, by its application_id), built from the applications and
-- loans streams. No personal data: ownership, where the file stands, and the dates the retention rules count from.
create table subjects (
    subject_id        uuid        primary key,
    association_id    text        not null,
    region            text        not null,
    status            text        not null check (status in (
                          'submitted', 'withdrawn', 'unfavourable', 'declined', 'approved', 'active', 'closed', 'written_off')),
    loan_id           uuid,
    last_activity_at  timestamptz not null,
    approved_at       timestamptz,
    ended_on          date,       -- the loan's closure or write-off
    restricted_at     timestamptz,
    restricted_by     text,
    erased_at         timestamptz
);
create index subjects_to_review on subjects (subject_id) where erased_at is null;

-- What was erased or anonymised, once per subject, by which rule (or at the person's request), by which run.
create table erasures (
    subject_id     uuid        primary key references subjects (subject_id),
    erased_at      timestamptz not null,
    kind           text        not null check (kind in ('erase', 'anonymise')),
    rule           text        not null,
    run_date       date,       -- null: at the person's request
    requested_by   text,
    key_destroyed  boolean     not null
);
create index erasures_by_run on erasures (run_date) where run_date is not null;

-- The daily retention runs: one per day, in chunks of subjects; a run interrupted resumes after its last chunk.
create table retention_runs (
    run_date      date        primary key,
    started_at    timestamptz not null,
    finished_at   timestamptz,
    passes        integer     not null default 0,
    resume_after  uuid,
    chunks        integer     not null default 0,
    reviewed      integer     not null default 0,
    erased        integer     not null default 0,
    anonymised    integer     not null default 0,
    held          integer     not null default 0,  -- due, but restricted: kept until the restriction is lifted
    rules         jsonb       not null             -- the entries in force that day: id -> {since, keep, then}
);
