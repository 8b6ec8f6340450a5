-- The whole file (drafts included), its documents checklist, withdrawal and decision, the audit trail
-- and the funnel's dated milestones.
alter table applications
    alter column purpose drop not null,
    alter column amount_cents drop not null,
    alter column duration_months drop not null,
    alter column submitted_at drop not null,
    add column branch_id         text,
    add column applicant         jsonb,
    add column household         jsonb,
    add column resources         jsonb not null default '{}',
    add column charges           jsonb not null default '{}',
    add column project           jsonb,
    add column referral_source   text,
    add column documents         jsonb not null default '{}',
    add column incomplete_reason text,
    add column created_at        timestamptz,
    add column created_by        text,
    add column updated_at        timestamptz,
    add column withdrawn_at      timestamptz,
    add column withdrawal_reason text,
    add column withdrawn_by      text,
    add column decided_at        timestamptz;

-- Files submitted before the full form: rebuild their sections from the flat columns.
update applications set
    applicant  = jsonb_build_object(
                     'first_name', split_part(applicant_name, ' ', 1),
                     'last_name', coalesce(nullif(substring(applicant_name from ' (.*)$'), ''), applicant_name)),
    resources  = jsonb_build_object('other', monthly_resources_cents),
    charges    = jsonb_build_object('other', monthly_charges_cents),
    project    = jsonb_build_object('purpose', purpose, 'description', 'Dossier déposé avant le formulaire complet'),
    created_at = submitted_at,
    created_by = counsellor_id,
    updated_at = submitted_at
where applicant is null;

alter table applications
    alter column applicant set not null,
    alter column created_at set not null,
    alter column created_by set not null,
    alter column updated_at set not null;

create index applications_by_counsellor on applications (association_id, counsellor_id, status, created_at);
create index applications_by_status on applications (association_id, status, created_at);

-- Who did what to a file, and when; written in the transaction of the change.
create table audit_log (
    id             bigserial   primary key,
    application_id uuid        not null references applications (id),
    at             timestamptz not null,
    actor_subject  text        not null,
    actor_role     text        not null,
    action         text        not null,
    details        jsonb       not null default '{}'
);
create index audit_log_by_application on audit_log (application_id, at, id);

-- The funnel: when each file reached each step, with its owner so that aggregates need no join.
create table milestones (
    application_id uuid        not null,
    milestone      text        not null,
    at             timestamptz not null,
    association_id text        not null,
    region         text        not null,
    primary key (application_id, milestone)
);
create index milestones_by_period on milestones (at, association_id, region);

insert into milestones (application_id, milestone, at, association_id, region)
select id, m.milestone, submitted_at, association_id, region
from applications cross join (values ('opened'), ('submitted')) as m (milestone)
where submitted_at is not null;

insert into audit_log (application_id, at, actor_subject, actor_role, action, details)
select id, submitted_at, counsellor_id, 'counsellor', 'submitted', '{"migrated": true}'
from applications
where submitted_at is not null;
