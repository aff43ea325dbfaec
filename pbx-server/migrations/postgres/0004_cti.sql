-- CTI: the privacy right per user, and the indexes a user's call history needs.
ALTER TABLE app_user ADD COLUMN privacy BIGINT NOT NULL DEFAULT 0;
CREATE INDEX cdr_caller ON cdr (tenant, caller, start_ms);
CREATE INDEX cdr_detail_destination ON cdr_detail (destination_num);
