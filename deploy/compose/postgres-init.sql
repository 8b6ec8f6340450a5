-- Keycloak keeps its own tables in a database of its own (docker-compose.yml).
create database keycloak;
