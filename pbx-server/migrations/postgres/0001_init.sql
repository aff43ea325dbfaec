-- Centralino configuration and call records (PostgreSQL).
-- Integers are BIGINT-compatible, booleans 0/1, times epoch milliseconds (see docs/decisions/002).
CREATE TABLE tenant (
    id BIGSERIAL PRIMARY KEY,
    domain TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL
);
INSERT INTO tenant (domain, name) VALUES ('default', 'Default');

CREATE TABLE extension_template (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenant(id),
    name TEXT NOT NULL,
    call_limit BIGINT NOT NULL DEFAULT 0,
    busy_level BIGINT NOT NULL DEFAULT 0,
    ring_timeout_s BIGINT NOT NULL DEFAULT 30,
    overflow_noanswer TEXT NOT NULL DEFAULT 'hangup',
    overflow_busy TEXT NOT NULL DEFAULT 'hangup',
    overflow_unavailable TEXT NOT NULL DEFAULT 'hangup',
    UNIQUE (tenant_id, name)
);
INSERT INTO extension_template (tenant_id, name) SELECT id, 'Default' FROM tenant WHERE domain = 'default';

CREATE TABLE extension (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenant(id),
    number TEXT NOT NULL,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    mobile TEXT NOT NULL DEFAULT '',
    enabled BIGINT NOT NULL DEFAULT 1,
    template_id BIGINT NOT NULL REFERENCES extension_template(id),
    call_limit BIGINT,
    busy_level BIGINT,
    ring_timeout_s BIGINT,
    overflow_noanswer TEXT,
    overflow_busy TEXT,
    overflow_unavailable TEXT,
    UNIQUE (tenant_id, number)
);

CREATE TABLE account_template (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenant(id),
    name TEXT NOT NULL,
    registration_check BIGINT NOT NULL DEFAULT 0,
    acl TEXT,
    nat BIGINT NOT NULL DEFAULT 0,
    min_expires BIGINT NOT NULL DEFAULT 60,
    max_expires BIGINT NOT NULL DEFAULT 3600,
    default_expires BIGINT NOT NULL DEFAULT 3600,
    UNIQUE (tenant_id, name)
);
INSERT INTO account_template (tenant_id, name) SELECT id, 'Default' FROM tenant WHERE domain = 'default';

CREATE TABLE sip_account (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenant(id),
    extension_id BIGINT NOT NULL REFERENCES extension(id),
    username TEXT NOT NULL UNIQUE,
    ha1_md5 TEXT NOT NULL,
    ha1_sha256 TEXT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    template_id BIGINT NOT NULL REFERENCES account_template(id),
    registration_check BIGINT,
    acl TEXT,
    nat BIGINT,
    min_expires BIGINT,
    max_expires BIGINT,
    default_expires BIGINT
);

CREATE TABLE app_user (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenant(id),
    username TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    extension_id BIGINT REFERENCES extension(id),
    gui_access BIGINT NOT NULL DEFAULT 0,
    cti_access BIGINT NOT NULL DEFAULT 1,
    api_access BIGINT NOT NULL DEFAULT 0,
    role TEXT NOT NULL DEFAULT 'user',
    UNIQUE (tenant_id, username)
);

CREATE TABLE location (
    account_id BIGINT PRIMARY KEY REFERENCES sip_account(id),
    contact TEXT NOT NULL,
    source_ip TEXT NOT NULL,
    source_port BIGINT NOT NULL,
    transport TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    user_agent TEXT NOT NULL DEFAULT '',
    registered_at_ms BIGINT NOT NULL
);

CREATE TABLE cdr (
    unique_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    source_type TEXT NOT NULL,
    destination_type TEXT NOT NULL,
    status TEXT,
    start_ms BIGINT NOT NULL,
    channel_up_ms BIGINT,
    answer_ms BIGINT,
    end_ms BIGINT,
    answered_by TEXT,
    caller TEXT NOT NULL,
    caller_name TEXT,
    anonymous BIGINT NOT NULL DEFAULT 0,
    called TEXT NOT NULL,
    called_name TEXT,
    duration_s BIGINT,
    bill_ms BIGINT,
    src_peer_name TEXT,
    src_ip_port TEXT,
    recovered BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX cdr_start ON cdr (start_ms);
CREATE INDEX cdr_open ON cdr (end_ms);

CREATE TABLE cdr_detail (
    unique_id TEXT NOT NULL REFERENCES cdr(unique_id),
    seq BIGINT NOT NULL,
    source_num TEXT NOT NULL,
    anonymous BIGINT NOT NULL DEFAULT 0,
    destination_type TEXT NOT NULL,
    destination_id TEXT NOT NULL,
    destination_name TEXT,
    destination_num TEXT,
    enter_ms BIGINT NOT NULL,
    enqueue_ms BIGINT,
    answer_ms BIGINT,
    exit_ms BIGINT,
    exit_cause TEXT,
    answered_by TEXT,
    waiting_time_s BIGINT,
    PRIMARY KEY (unique_id, seq)
);

CREATE TABLE server_state (
    key TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
