-- A file whose person was erased (event `person erased`): its personal fields are gone; intake's late versions are ignored.
alter table assessments add column erased_at timestamptz;
