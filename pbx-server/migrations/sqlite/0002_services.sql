-- Telephone services of an extension (DND, the four forwards, fork to mobile): runtime state
-- set from the CTI or the REST API, kept across restarts. No row = everything off.
CREATE TABLE extension_service (
    extension_id INTEGER PRIMARY KEY REFERENCES extension(id) ON DELETE CASCADE,
    dnd INTEGER NOT NULL DEFAULT 0,
    forward_unconditional TEXT,
    forward_busy TEXT,
    forward_no_answer TEXT,
    forward_unavailable TEXT,
    fork2mobile INTEGER NOT NULL DEFAULT 0
);
