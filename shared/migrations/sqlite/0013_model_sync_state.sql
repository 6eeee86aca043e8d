-- What the latest push or plan found for a model it wants in LiteLLM: 'in_sync', 'pending'
-- (sync_detail names what differs) or 'error' (sync_detail holds the failure, without secrets).
-- NULL until a push or plan has looked at the model. The status the pages show reads it.
ALTER TABLE models ADD COLUMN sync_state TEXT;
ALTER TABLE models ADD COLUMN sync_detail TEXT;
ALTER TABLE models ADD COLUMN sync_checked_at TEXT;
