-- Call center and group services (docs/decisions/010-call-center.md): queues and their members
-- (configured, or dynamic: agents logged in at run time), agents' pause periods, ring groups
-- with priority tiers, and overrides of the feature codes (defaults are the seed's).
CREATE TABLE queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenant(id),
    number TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1,
    priority INTEGER NOT NULL DEFAULT 0,
    strategy TEXT NOT NULL DEFAULT 'ringall',
    ring_timeout_s INTEGER NOT NULL DEFAULT 15,
    retry_s INTEGER NOT NULL DEFAULT 5,
    wrapup_s INTEGER NOT NULL DEFAULT 20,
    max_wait_s INTEGER NOT NULL DEFAULT 120,
    max_callers INTEGER NOT NULL DEFAULT 0,
    autopause INTEGER NOT NULL DEFAULT 0,
    ring_busy INTEGER NOT NULL DEFAULT 0,
    overflow TEXT NOT NULL DEFAULT 'hangup',
    -- Comma lists of busy, paused, unavailable: immediate overflow when every member is so.
    join_empty TEXT NOT NULL DEFAULT '',
    leave_empty TEXT NOT NULL DEFAULT '',
    service_level_s INTEGER NOT NULL DEFAULT 20,
    UNIQUE (tenant_id, number)
);
CREATE TABLE queue_member (
    queue_id INTEGER NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
    extension_id INTEGER NOT NULL REFERENCES extension(id) ON DELETE CASCADE,
    penalty INTEGER NOT NULL DEFAULT 0,
    position INTEGER NOT NULL DEFAULT 0,
    dynamic INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (queue_id, extension_id)
);
-- One row per pause of an agent in a queue; end_ms NULL while it lasts (restored at start).
CREATE TABLE queue_pause (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_id INTEGER NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
    extension_id INTEGER NOT NULL REFERENCES extension(id) ON DELETE CASCADE,
    reason TEXT,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER
);
CREATE INDEX queue_pause_member ON queue_pause (queue_id, extension_id, end_ms);
CREATE INDEX queue_pause_start ON queue_pause (start_ms);
CREATE INDEX cdr_detail_type_enter ON cdr_detail (destination_type, enter_ms);
CREATE TABLE ring_group (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenant(id),
    number TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1,
    overflow TEXT NOT NULL DEFAULT 'hangup',
    UNIQUE (tenant_id, number)
);
-- Tier 1 rings first; every member of a tier rings at once for the tier's ring_s.
CREATE TABLE ring_group_member (
    group_id INTEGER NOT NULL REFERENCES ring_group(id) ON DELETE CASCADE,
    extension_id INTEGER NOT NULL REFERENCES extension(id) ON DELETE CASCADE,
    tier INTEGER NOT NULL DEFAULT 1,
    ring_s INTEGER NOT NULL DEFAULT 20,
    PRIMARY KEY (group_id, extension_id)
);
CREATE TABLE feature_code (
    tenant_id INTEGER NOT NULL REFERENCES tenant(id),
    service TEXT NOT NULL,
    code TEXT NOT NULL,
    PRIMARY KEY (tenant_id, service)
);
