-- REST administration (docs/decisions/011-rest-api.md).
-- The tenant's UUID that the seed's operation API answers with (`tenantUuid`), made on first use.
ALTER TABLE tenant ADD COLUMN uuid TEXT;
-- Operational overrides of the seed's /rest/operation API that are not telephone services:
-- BUSYLEVEL (NULL = as configured; 0 = unlimited) and EXTEN_HUNTING (the JSON priorities,
-- NULL = every account at once).
CREATE TABLE extension_operation (
    extension_id BIGINT PRIMARY KEY REFERENCES extension(id) ON DELETE CASCADE,
    busy_level BIGINT,
    hunting TEXT
);
-- Custom roles: per-area access levels (none, list, read, write) of the seed. The predefined
-- roles (admin, privacyadmin, phonebook, click2call, user) are built in and not stored.
CREATE TABLE api_role (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenant(id),
    name TEXT NOT NULL,
    priority BIGINT NOT NULL DEFAULT 0,
    privacy BIGINT NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, name)
);
CREATE TABLE api_role_access (
    role_id BIGINT NOT NULL REFERENCES api_role(id) ON DELETE CASCADE,
    area TEXT NOT NULL,
    level TEXT NOT NULL,
    PRIMARY KEY (role_id, area)
);
-- CDR queries of one tenant by period.
CREATE INDEX cdr_tenant_start ON cdr (tenant, start_ms);
