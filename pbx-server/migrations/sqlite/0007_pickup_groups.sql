-- Pickup groups (seed §5): per extension, the groups it is a member of (its ringing calls can
-- be picked up by the group) and the groups it may pick up from (`*9`). A group is a name.
CREATE TABLE pickup_group_member (
    extension_id INTEGER NOT NULL REFERENCES extension(id) ON DELETE CASCADE,
    grp TEXT NOT NULL,
    -- 'member' or 'picker'.
    role TEXT NOT NULL,
    PRIMARY KEY (extension_id, grp, role)
);
