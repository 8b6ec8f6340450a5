-- Close of business in chunks: progress of the pass under way, so a run interrupted half-way resumes
-- where it stopped; and an index for the loans whose stored delinquency the run must revisit.

alter table cob_runs
    add column passes        integer not null default 0,
    -- The last loan id of the last committed chunk of the pass under way (null: no pass under way).
    add column resume_after  uuid,
    add column chunks        integer not null default 0,
    add column loans_visited integer not null default 0;

-- Loans in arrears by their stored summary: the close of business revisits them even once every
-- instalment is paid, to bring them back to `current`.
create index loans_in_arrears on loans (id) where status = 'active' and (days_past_due > 0 or arrears_cents > 0);

-- Instalments found missed before `missed_on` existed: the line itself now says it was missed.
update instalments i
   set missed_on = m.business_date
  from missed_instalments m
 where m.loan_id = i.loan_id and m.number = i.number and i.missed_on is null;

-- Room on each page for the new version of a row: marking an instalment missed (or any update leaving
-- the indexed columns alone) then stays on its page (a HOT update) without touching the indexes.
-- Pages written from now on; a table rewrite would give it to the existing ones.
alter table instalments set (fillfactor = 90);
