"""The directory's domain (pure, no I/O): what an admin writes of each entity, the rules between entities, and a change's
snapshot event and audit entry."""
