-- A file whose person was erased (event `person erased`): its personal fields are gone, it can change no more.
alter table applications add column erased_at timestamptz;
