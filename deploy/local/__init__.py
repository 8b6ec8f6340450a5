"""Docker-free provisioning of a real Kafka broker and a real Postgres server on this machine."""
