-- Any number of litellm-sync processes may share one database; exactly one holds the lease and
-- works (fetches, pushes, runs jobs). `token` grows at every acquisition: a worker that lost the
-- lease can tell, and a job records the holder that claimed it.
CREATE TABLE worker_lease (
    id                      INTEGER PRIMARY KEY CHECK (id = 1),
    holder                  TEXT,
    token                   INTEGER NOT NULL DEFAULT 0,
    acquired_at             TEXT,
    expires_at              TEXT
);
INSERT INTO worker_lease (id) VALUES (1);

-- Every worker process, active or standby, beats here; worker_status stays the active one's.
CREATE TABLE workers (
    instance_id             TEXT PRIMARY KEY,
    pid                     INTEGER NOT NULL,
    host                    TEXT NOT NULL,
    version                 TEXT NOT NULL,
    started_at              TEXT NOT NULL,
    last_beat               TEXT NOT NULL,
    role                    TEXT NOT NULL CHECK (role IN ('active', 'standby', 'stopped')),
    state                   TEXT NOT NULL,
    current_job_id          INTEGER
);

ALTER TABLE jobs ADD COLUMN claimed_by TEXT;
