-- Call center and group services (docs/decisions/010-call-center.md): queues and their members
-- (configured, or dynamic: agents logged in at run time), agents' pause periods, ring groups
-- with priority tiers, and overrides of the feature codes (defaults are the seed's).
CREATE TABLE queue (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenant(id),
    number TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    enabled BIGINT NOT NULL DEFAULT 1,
    priority BIGINT NOT NULL DEFAULT 0,
    strategy TEXT NOT NULL DEFAULT 'ringall',
    ring_timeout_s BIGINT NOT NULL DEFAULT 15,
    retry_s BIGINT NOT NULL DEFAULT 5,
    wrapup_s BIGINT NOT NULL DEFAULT 20,
    max_wait_s BIGINT NOT NULL DEFAULT 120,
    max_callers BIGINT NOT NULL DEFAULT 0,
    autopause BIGINT NOT NULL DEFAULT 0,
    ring_busy BIGINT NOT NULL DEFAULT 0,
    overflow TEXT NOT NULL DEFAULT 'hangup',
    -- Comma lists of busy, paused, unavailable: immediate overflow when every member is so.
    join_empty TEXT NOT NULL DEFAULT '',
    leave_empty TEXT NOT NULL DEFAULT '',
    service_level_s BIGINT NOT NULL DEFAULT 20,
    UNIQUE (tenant_id, number)
);
CREATE TABLE queue_member (
    queue_id BIGINT NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
    extension_id BIGINT NOT NULL REFERENCES extension(id) ON DELETE CASCADE,
    penalty BIGINT NOT NULL DEFAULT 0,
    position BIGINT NOT NULL DEFAULT 0,
    dynamic BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (queue_id, extension_id)
);
-- One row per pause of an agent in a queue; end_ms NULL while it lasts (restored at start).
CREATE TABLE queue_pause (
    id BIGSERIAL PRIMARY KEY,
    queue_id BIGINT NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
    extension_id BIGINT NOT NULL REFERENCES extension(id) ON DELETE CASCADE,
    reason TEXT,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT
);
CREATE INDEX queue_pause_member ON queue_pause (queue_id, extension_id, end_ms);
CREATE INDEX queue_pause_start ON queue_pause (start_ms);
CREATE INDEX cdr_detail_type_enter ON cdr_detail (destination_type, enter_ms);
CREATE TABLE ring_group (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenant(id),
    number TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    enabled BIGINT NOT NULL DEFAULT 1,
    overflow TEXT NOT NULL DEFAULT 'hangup',
    UNIQUE (tenant_id, number)
);
-- Tier 1 rings first; every member of a tier rings at once for the tier's ring_s.
CREATE TABLE ring_group_member (
    group_id BIGINT NOT NULL REFERENCES ring_group(id) ON DELETE CASCADE,
    extension_id BIGINT NOT NULL REFERENCES extension(id) ON DELETE CASCADE,
    tier BIGINT NOT NULL DEFAULT 1,
    ring_s BIGINT NOT NULL DEFAULT 20,
    PRIMARY KEY (group_id, extension_id)
);
CREATE TABLE feature_code (
    tenant_id BIGINT NOT NULL REFERENCES tenant(id),
    service TEXT NOT NULL,
    code TEXT NOT NULL,
    PRIMARY KEY (tenant_id, service)
);
