#!/usr/bin/env bash
# Creates litellm-updater's own role and database on the PostgreSQL server that also holds LiteLLM's.
# The postgres image runs it once, when its data directory is first initialised; on a server that
# already has data, run it by hand (README "Running on several machines"). Running it again changes
# nothing: an existing role or database is left as it is, password included.
#   UPDATER_DB_USER, UPDATER_DB_NAME  role and database (default litellm_updater for both)
#   UPDATER_DB_PASSWORD               the role's password (required)
#   POSTGRES_USER, POSTGRES_DB        the superuser and database to connect as (the image's own)
set -euo pipefail

: "${UPDATER_DB_PASSWORD:?set UPDATER_DB_PASSWORD: the password of the litellm-updater database role}"
user=${UPDATER_DB_USER:-litellm_updater}
name=${UPDATER_DB_NAME:-litellm_updater}

# psql variables (:'x' quotes a literal, %I/%L in format() quote identifiers and literals), so no
# value is ever pasted into SQL text by the shell.
psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet \
  --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
  -v user="$user" -v name="$name" -v password="$UPDATER_DB_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'user', :'password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'user')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'name') \gexec
SQL
echo "litellm-updater's database $name (owner $user) is ready"
