-- LiteLLM's model list as a push reads it, kept here while the push runs (not in the worker's
-- memory), edited as its operations succeed, and copied into litellm_entries when it ends.
CREATE TABLE litellm_entries_staged (
    position                INTEGER PRIMARY KEY,
    litellm_id              TEXT,
    model_name              TEXT NOT NULL,
    owned                   INTEGER NOT NULL,
    entry                   TEXT NOT NULL
);
CREATE INDEX litellm_entries_staged_by_id ON litellm_entries_staged (litellm_id);
