-- Centralino configuration and call records (SQLite).
-- Integers are BIGINT-compatible, booleans 0/1, times epoch milliseconds (see docs/decisions/002).
CREATE TABLE tenant (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    domain TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL
);
INSERT INTO tenant (domain, name) VALUES ('default', 'Default');

CREATE TABLE extension_template (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenant(id),
    name TEXT NOT NULL,
    call_limit INTEGER NOT NULL DEFAULT 0,
    busy_level INTEGER NOT NULL DEFAULT 0,
    ring_timeout_s INTEGER NOT NULL DEFAULT 30,
    overflow_noanswer TEXT NOT NULL DEFAULT 'hangup',
    overflow_busy TEXT NOT NULL DEFAULT 'hangup',
    overflow_unavailable TEXT NOT NULL DEFAULT 'hangup',
    UNIQUE (tenant_id, name)
);
INSERT INTO extension_template (tenant_id, name) SELECT id, 'Default' FROM tenant WHERE domain = 'default';

CREATE TABLE extension (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenant(id),
    number TEXT NOT NULL,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    mobile TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1,
    template_id INTEGER NOT NULL REFERENCES extension_template(id),
    call_limit INTEGER,
    busy_level INTEGER,
    ring_timeout_s INTEGER,
    overflow_noanswer TEXT,
    overflow_busy TEXT,
    overflow_unavailable TEXT,
    UNIQUE (tenant_id, number)
);

CREATE TABLE account_template (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenant(id),
    name TEXT NOT NULL,
    registration_check INTEGER NOT NULL DEFAULT 0,
    acl TEXT,
    nat INTEGER NOT NULL DEFAULT 0,
    min_expires INTEGER NOT NULL DEFAULT 60,
    max_expires INTEGER NOT NULL DEFAULT 3600,
    default_expires INTEGER NOT NULL DEFAULT 3600,
    UNIQUE (tenant_id, name)
);
INSERT INTO account_template (tenant_id, name) SELECT id, 'Default' FROM tenant WHERE domain = 'default';

CREATE TABLE sip_account (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenant(id),
    extension_id INTEGER NOT NULL REFERENCES extension(id),
    username TEXT NOT NULL UNIQUE,
    ha1_md5 TEXT NOT NULL,
    ha1_sha256 TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    template_id INTEGER NOT NULL REFERENCES account_template(id),
    registration_check INTEGER,
    acl TEXT,
    nat INTEGER,
    min_expires INTEGER,
    max_expires INTEGER,
    default_expires INTEGER
);

CREATE TABLE app_user (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenant(id),
    username TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    extension_id INTEGER REFERENCES extension(id),
    gui_access INTEGER NOT NULL DEFAULT 0,
    cti_access INTEGER NOT NULL DEFAULT 1,
    api_access INTEGER NOT NULL DEFAULT 0,
    role TEXT NOT NULL DEFAULT 'user',
    UNIQUE (tenant_id, username)
);

CREATE TABLE location (
    account_id INTEGER PRIMARY KEY REFERENCES sip_account(id),
    contact TEXT NOT NULL,
    source_ip TEXT NOT NULL,
    source_port INTEGER NOT NULL,
    transport TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    user_agent TEXT NOT NULL DEFAULT '',
    registered_at_ms INTEGER NOT NULL
);

CREATE TABLE cdr (
    unique_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    source_type TEXT NOT NULL,
    destination_type TEXT NOT NULL,
    status TEXT,
    start_ms INTEGER NOT NULL,
    channel_up_ms INTEGER,
    answer_ms INTEGER,
    end_ms INTEGER,
    answered_by TEXT,
    caller TEXT NOT NULL,
    caller_name TEXT,
    anonymous INTEGER NOT NULL DEFAULT 0,
    called TEXT NOT NULL,
    called_name TEXT,
    duration_s INTEGER,
    bill_ms INTEGER,
    src_peer_name TEXT,
    src_ip_port TEXT,
    recovered INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX cdr_start ON cdr (start_ms);
CREATE INDEX cdr_open ON cdr (end_ms);

CREATE TABLE cdr_detail (
    unique_id TEXT NOT NULL REFERENCES cdr(unique_id),
    seq INTEGER NOT NULL,
    source_num TEXT NOT NULL,
    anonymous INTEGER NOT NULL DEFAULT 0,
    destination_type TEXT NOT NULL,
    destination_id TEXT NOT NULL,
    destination_name TEXT,
    destination_num TEXT,
    enter_ms INTEGER NOT NULL,
    enqueue_ms INTEGER,
    answer_ms INTEGER,
    exit_ms INTEGER,
    exit_cause TEXT,
    answered_by TEXT,
    waiting_time_s INTEGER,
    PRIMARY KEY (unique_id, seq)
);

CREATE TABLE server_state (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
