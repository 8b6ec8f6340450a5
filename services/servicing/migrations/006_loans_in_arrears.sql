-- The close of business updates days past due, arrears and stage on every loan it visits: when no index
-- covers those columns (nor holds them in a predicate) and the page has room, Postgres rewrites the row in
-- place (a HOT update) without a new entry in each of the loans' five indexes, nor their pages in the WAL.
-- The loans stored as in arrears, which the close of business revisits to bring them back to `current`,
-- were found through a partial index on those very columns: they are now listed in a table of their own,
-- kept by the close of business when it changes a loan's summary.

drop index loans_in_arrears;
create table loans_in_arrears (
    -- An active loan whose stored summary has days past due or arrears (a loan closed or written off since
    -- may linger until the next close of business takes its scope).
    loan_id uuid primary key
);
insert into loans_in_arrears (loan_id)
select id from loans where status = 'active' and (days_past_due > 0 or arrears_cents > 0);

-- Room on each page for the new version of a row (pages written from now on, as for the instalments).
alter table loans set (fillfactor = 90);
