-- Licence seats (issue 6, the seed's "Licenze"): the seats each tenant holds per product
-- (cti_pro, cti_phone, call_center), and what each user is assigned. A user without a seat
-- uses the desktop app in Free mode.
CREATE TABLE licence_pool (
    tenant_id INTEGER NOT NULL REFERENCES tenant(id),
    product TEXT NOT NULL,
    seats INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, product)
);
-- 'free', 'pro' or 'phone'.
ALTER TABLE app_user ADD COLUMN cti_licence TEXT NOT NULL DEFAULT 'free';
ALTER TABLE app_user ADD COLUMN call_center_licence INTEGER NOT NULL DEFAULT 0;
-- Users that exist at the upgrade keep the call control they had: a Pro seat each, in a pool
-- sized to hold them.
UPDATE app_user SET cti_licence = 'pro';
INSERT INTO licence_pool (tenant_id, product, seats)
    SELECT tenant_id, 'cti_pro', COUNT(*) FROM app_user GROUP BY tenant_id;
