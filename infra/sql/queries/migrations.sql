-- name: lock_migrations
-- Serialise concurrent `conveyor migrate` runs (released at session end or by unlock).
SELECT pg_advisory_lock(7361023001);

-- name: unlock_migrations
-- Release the migrations lock.
SELECT pg_advisory_unlock(7361023001);

-- name: create_migrations_table
-- The record of applied migrations.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- name: applied_migrations
-- Versions already applied.
SELECT version FROM schema_migrations;

-- name: record_migration
-- Remember an applied migration.
-- $1 version, $2 file name
INSERT INTO schema_migrations (version, name) VALUES ($1, $2);

-- name: database_exists
-- Whether a database exists on the server.
-- $1 database name
SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1);

-- name: ping
-- Whether the server answers.
SELECT 1;
