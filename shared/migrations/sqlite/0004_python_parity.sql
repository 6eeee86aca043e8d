-- What the latest Python litellm-updater (0.6) stores beyond the plan-era schema, so that
-- adopting its database keeps every feature working: pricing profiles at every level,
-- per-provider rate limits, and whether fill-in-the-middle support is detected.
ALTER TABLE providers ADD COLUMN pricing_profile TEXT;
ALTER TABLE providers ADD COLUMN rpm INTEGER CHECK (rpm IS NULL OR rpm > 0);
ALTER TABLE providers ADD COLUMN tpm INTEGER CHECK (tpm IS NULL OR tpm > 0);
ALTER TABLE providers ADD COLUMN auto_detect_fim INTEGER NOT NULL DEFAULT 1;
ALTER TABLE models ADD COLUMN pricing_profile TEXT;
ALTER TABLE config ADD COLUMN default_pricing_profile TEXT;

-- Operator-defined pricing profiles (the built-in ones live in the code).
CREATE TABLE pricing_profiles (
    name TEXT PRIMARY KEY NOT NULL,
    input_cost_per_token REAL NOT NULL CHECK (input_cost_per_token >= 0),
    output_cost_per_token REAL NOT NULL CHECK (output_cost_per_token >= 0),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- What adopting a Python database kept, converted or changed, and why, in plain words.
CREATE TABLE adoption_notes (
    id INTEGER PRIMARY KEY,
    outcome TEXT NOT NULL CHECK (outcome IN ('kept', 'converted', 'changed')),
    subject TEXT NOT NULL,
    note TEXT NOT NULL
);
