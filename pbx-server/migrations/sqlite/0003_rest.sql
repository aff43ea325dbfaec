-- REST API authentication (the seed's X-authenticate scheme, docs/decisions/006-rest-auth.md):
-- a random salt per tenant, created on first use, and per user hex(sha256(password{salt})),
-- written with the argon2 hash whenever a password is set. NULL = the user cannot use the API
-- until its password is set again.
ALTER TABLE tenant ADD COLUMN rest_salt TEXT;
ALTER TABLE app_user ADD COLUMN digest_password TEXT;
