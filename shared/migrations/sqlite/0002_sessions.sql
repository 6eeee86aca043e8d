-- Browser sessions of litellm-frontend (issue 9). Server-side, so that logging out ends a
-- session at once and several frontends on one database share them. Only a hash of the session
-- id is stored: a copy of the database logs nobody in.
CREATE TABLE sessions (
    -- SHA-256 (hex) of the random id the cookie carries.
    id_hash                 TEXT PRIMARY KEY,
    -- SHA-256 (hex) of the admin token the session was opened with: a changed ADMIN_TOKEN
    -- matches no session, so it logs everyone out.
    token_fingerprint       TEXT NOT NULL,
    created_at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    -- Unix seconds.
    expires_at              INTEGER NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
