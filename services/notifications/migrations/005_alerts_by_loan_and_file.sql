-- Issue 12: a loan's or a file's alerts (`GET /alerts?loan_id=` or `?application_id=`, the workspace's loan page,
-- the reads that wait for an alert) are found by these, not by reading every alert of the association.
create index alerts_by_loan on alerts (loan_id, raised_at desc) where loan_id is not null;
create index alerts_by_application on alerts (application_id, raised_at desc) where application_id is not null;
