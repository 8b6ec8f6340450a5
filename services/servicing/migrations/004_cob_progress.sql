-- Close of business readable while it runs: how many loans the pass under way visits, beside the
-- chunks and loans it has visited so far (a progress bar, from another request).

alter table cob_runs
    -- Counted when the pass takes its scope, with the chunks' own criteria (null until then); a loan of
    -- the scope that is no longer active when its chunk comes is not visited, and is taken off the count.
    add column loans_to_visit integer;

-- A pass that finished visited all it had to.
update cob_runs set loans_to_visit = loans_visited where finished_at is not null;
