-- The lists, oldest first, read from an index in order instead of sorting every file of the association or the bank:
-- a counsellor's queue, an association's, and the files routed to a bank (with a status, the indexes of 001 and 002
-- find the few files in it).
create index assessments_queue_in_order_by_counsellor on assessments (association_id, counsellor_id, received_at, application_id);
create index assessments_queue_in_order on assessments (association_id, received_at, application_id);
create index assessments_routed_in_order on assessments (bank_id, routed_at, application_id) where routed_at is not null;
