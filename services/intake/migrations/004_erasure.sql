-- A file whose person was erased (event `person erased`): its personal fields are gone, it can change no more.
-- A file whose processing the DPO restricted (event `person restricted`): kept as it is until the restriction is lifted.
alter table applications add column erased_at timestamptz, add column restricted_at timestamptz;
