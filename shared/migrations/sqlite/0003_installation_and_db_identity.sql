-- litellm-updater schema v3 (hardening).
--
-- config.installation_id: a random id created once per database. Every LiteLLM entry this
-- installation pushes carries it (model_info.managed_by_installation), so two installations
-- pointed at one LiteLLM never delete or patch each other's entries. Entries pushed before it
-- existed (managed_by set, no installation id) are adopted by the first push.
ALTER TABLE config ADD COLUMN installation_id TEXT;
UPDATE config SET installation_id = lower(hex(randomblob(16))) WHERE installation_id IS NULL;

-- The device and inode of the database file the worker has open, written with each heartbeat:
-- `litellm-sync health` (and the frontend) compare them with the file now at the path, so a
-- database deleted or replaced under a running worker reads as unhealthy, not as a fresh beat.
ALTER TABLE worker_status ADD COLUMN db_dev INTEGER;
ALTER TABLE worker_status ADD COLUMN db_ino INTEGER;
