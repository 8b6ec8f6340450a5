"""Deployment assets: Kafka jars pinned by Maven and local (Docker-free) provisioning of the infrastructure."""
