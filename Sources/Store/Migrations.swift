import GRDB

/// The schema's named migrations. Never edit one that has landed: add a new one.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-core") { db in
            try db.execute(sql: """
                CREATE TABLE runs (
                    id TEXT PRIMARY KEY NOT NULL,
                    pipeline TEXT NOT NULL,
                    status TEXT NOT NULL,
                    submission_json TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    finished_at INTEGER,
                    reason TEXT
                );
                CREATE INDEX runs_by_pipeline ON runs(pipeline, created_at);
                CREATE TABLE steps (
                    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    position INTEGER NOT NULL,
                    status TEXT NOT NULL,
                    reused INTEGER NOT NULL DEFAULT 0,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    worker TEXT,
                    reason TEXT,
                    cache_key TEXT,
                    manifest_json TEXT,
                    outputs_json TEXT,
                    source_run TEXT,
                    source_attempt TEXT,
                    log_attempt TEXT,
                    metrics_json TEXT,
                    started_at INTEGER,
                    finished_at INTEGER,
                    PRIMARY KEY (run_id, name)
                );
                CREATE INDEX steps_by_name ON steps(name);
                CREATE TABLE attempts (
                    id TEXT PRIMARY KEY NOT NULL,
                    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    step TEXT NOT NULL,
                    worker TEXT NOT NULL,
                    status TEXT NOT NULL,
                    exit_code INTEGER,
                    signal INTEGER,
                    dispatched_at INTEGER NOT NULL,
                    started_at INTEGER,
                    finished_at INTEGER,
                    message TEXT
                );
                CREATE INDEX attempts_by_step ON attempts(run_id, step);
                CREATE TABLE artifacts (
                    digest TEXT PRIMARY KEY NOT NULL,
                    kind TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    created_at INTEGER NOT NULL
                );
                CREATE TABLE cache_entries (
                    key TEXT PRIMARY KEY NOT NULL,
                    run_id TEXT NOT NULL,
                    step TEXT NOT NULL,
                    attempt_id TEXT NOT NULL,
                    outputs_json TEXT NOT NULL,
                    created_at INTEGER NOT NULL
                );
                CREATE TABLE workers (
                    id TEXT PRIMARY KEY NOT NULL,
                    name TEXT NOT NULL,
                    capabilities_json TEXT NOT NULL,
                    connected INTEGER NOT NULL,
                    first_seen INTEGER NOT NULL,
                    last_seen INTEGER NOT NULL
                );
                CREATE TABLE events (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    run_id TEXT NOT NULL,
                    step TEXT,
                    kind TEXT NOT NULL,
                    detail TEXT,
                    at INTEGER NOT NULL
                );
                CREATE INDEX events_by_run ON events(run_id, seq);
                """)
        }
        // "v2-reliability" is registered here.
        migrator.registerMigration("v3-worker-keys") { db in
            try db.execute(sql: """
                CREATE TABLE worker_keys (
                    public_key TEXT PRIMARY KEY NOT NULL,
                    name TEXT NOT NULL,
                    added_at INTEGER NOT NULL,
                    revoked_at INTEGER
                );
                """)
        }
        migrator.registerMigration("v4-gpu-devices") { db in
            try db.execute(sql: "ALTER TABLE attempts ADD COLUMN gpu_devices TEXT")
        }
        migrator.registerMigration("v5-attempt-owner") { db in
            try db.execute(sql: "ALTER TABLE attempts ADD COLUMN worker_identity TEXT")
        }
        migrator.registerMigration("v6-metric-history") { db in
            // Every value of every metric (a point is recorded once per attempt), and params and tags.
            try db.execute(sql: """
                CREATE TABLE metric_points (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    attempt_id TEXT NOT NULL,
                    point INTEGER NOT NULL,
                    run_id TEXT NOT NULL,
                    step TEXT NOT NULL,
                    mlflow_run TEXT NOT NULL,
                    key TEXT NOT NULL,
                    step_index INTEGER NOT NULL,
                    timestamp INTEGER NOT NULL,
                    value REAL NOT NULL,
                    UNIQUE (attempt_id, point)
                );
                CREATE INDEX metric_points_by_run ON metric_points (run_id, seq);
                CREATE INDEX metric_points_by_step ON metric_points (run_id, step, seq);
                CREATE TABLE tracked_values (
                    attempt_id TEXT NOT NULL,
                    run_id TEXT NOT NULL,
                    step TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    mlflow_run TEXT NOT NULL,
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (attempt_id, kind, mlflow_run, key)
                );
                CREATE INDEX tracked_values_by_run ON tracked_values (run_id, step);
                ALTER TABLE attempts ADD COLUMN tracking_tree TEXT;
                """)
        }
        migrator.registerMigration("v7-mlflow-mirror") { db in
            // What the mirror to a user's MLflow server has sent, per attempt: survives restarts, so
            // nothing is sent twice.
            try db.execute(sql: """
                CREATE TABLE mlflow_mirror (
                    attempt_id TEXT PRIMARY KEY NOT NULL,
                    mlflow_run_id TEXT NOT NULL,
                    last_point_seq INTEGER NOT NULL DEFAULT 0,
                    sent_values_json TEXT NOT NULL DEFAULT '{}',
                    ended INTEGER NOT NULL DEFAULT 0
                );
                CREATE INDEX mlflow_mirror_open ON mlflow_mirror (ended);
                """)
        }
        migrator.registerMigration("v8-output-assets") { db in
            // The data assets runs registered (outputs with name:), and which steps read which content.
            try db.execute(sql: """
                CREATE TABLE output_assets (
                    name TEXT NOT NULL,
                    version TEXT NOT NULL,
                    type TEXT NOT NULL,
                    digest TEXT NOT NULL,
                    run_id TEXT NOT NULL,
                    step TEXT NOT NULL,
                    output TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    PRIMARY KEY (name, version)
                );
                """)
        }
        return migrator
    }
}
