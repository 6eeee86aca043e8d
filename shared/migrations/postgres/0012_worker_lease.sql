-- Any number of litellm-sync processes may share one database; exactly one holds the lease and
-- works (fetches, pushes, runs jobs). `token` grows at every acquisition: a worker that lost the
-- lease can tell, and a job records the holder that claimed it.
CREATE TABLE worker_lease (
    id                      BIGINT PRIMARY KEY CHECK (id = 1),
    holder                  TEXT COLLATE "C",
    token                   BIGINT NOT NULL DEFAULT 0,
    acquired_at             TEXT COLLATE "C",
    expires_at              TEXT COLLATE "C"
);
INSERT INTO worker_lease (id) VALUES (1);

-- Every worker process, active or standby, beats here; worker_status stays the active one's.
CREATE TABLE workers (
    instance_id             TEXT COLLATE "C" PRIMARY KEY,
    pid                     BIGINT NOT NULL,
    host                    TEXT COLLATE "C" NOT NULL,
    version                 TEXT COLLATE "C" NOT NULL,
    started_at              TEXT COLLATE "C" NOT NULL,
    last_beat               TEXT COLLATE "C" NOT NULL,
    role                    TEXT COLLATE "C" NOT NULL CHECK (role IN ('active', 'standby', 'stopped')),
    state                   TEXT COLLATE "C" NOT NULL,
    current_job_id          BIGINT
);

ALTER TABLE jobs ADD COLUMN claimed_by TEXT COLLATE "C";

-- Wakes the active worker (LISTEN litellm_updater_jobs) the moment a job is queued.
CREATE FUNCTION litellm_updater_job_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('litellm_updater_jobs', NEW.id::text);
    RETURN NEW;
END;
$$;
CREATE TRIGGER jobs_notify_queued AFTER INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION litellm_updater_job_queued();
