-- The file lists, newest first, read from an index in order instead of sorting every file of the association:
-- a counsellor's own files, and a supervisor's whole association (with a status, the two indexes of 002 serve).
create index applications_newest_by_counsellor on applications (association_id, counsellor_id, created_at, id);
create index applications_newest on applications (association_id, created_at, id);
