-- The loans a counsellor, an association or a bank follows, found without reading every loan.
create index loans_by_association on loans (association_id, counsellor_id);
create index loans_by_bank on loans (bank_id);
