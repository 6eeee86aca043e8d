-- When the Python tool's newer fields (pricing profiles, rate limits, FIM detection, routing
-- groups, compat aliases) were converted for an adopted database. Databases adopted by an
-- earlier litellm-updater kept those values only in legacy_* tables; NULL here converts them once.
ALTER TABLE legacy_adoption ADD COLUMN caught_up_at TEXT;
