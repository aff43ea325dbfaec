//! Roles and access levels: what a REST user may do, per area, with the seed's four levels
//! (none, list, read, write). The predefined roles are built in; custom roles come from the
//! store. Pure functions, unit-tested.

use crate::store::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An area of the API that a role grants a level on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Area {
    /// Extensions.
    Extension,
    /// SIP accounts.
    Account,
    /// Users.
    User,
    /// Roles (and assigning them to users).
    Role,
    /// The runtime services of extensions other than one's own (the seed's SERVICE_OPERATION).
    ServiceOperation,
    /// Call control on any extension of the tenant.
    CallControl,
    /// Call records.
    Cdr,
    /// Tenants (only in the `default` tenant, which administers the machine).
    Tenant,
}

impl Area {
    /// Every area, in a fixed order.
    pub const ALL: [Area; 8] = [
        Area::Extension,
        Area::Account,
        Area::User,
        Area::Role,
        Area::ServiceOperation,
        Area::CallControl,
        Area::Cdr,
        Area::Tenant,
    ];

    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            Area::Extension => "EXTENSION",
            Area::Account => "ACCOUNT",
            Area::User => "USER",
            Area::Role => "ROLE",
            Area::ServiceOperation => "SERVICE_OPERATION",
            Area::CallControl => "CALL_CONTROL",
            Area::Cdr => "CDR",
            Area::Tenant => "TENANT",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Area> {
        Area::ALL.into_iter().find(|a| a.name() == s)
    }
}

/// An access level; each includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Nothing.
    None,
    /// See the list.
    List,
    /// Read every item.
    Read,
    /// Create, change, delete.
    Write,
}

impl Level {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::List => "list",
            Level::Read => "read",
            Level::Write => "write",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Level> {
        [Level::None, Level::List, Level::Read, Level::Write]
            .into_iter()
            .find(|l| l.name() == s)
    }
}

/// What one user may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    levels: [Level; Area::ALL.len()],
    /// Sees external numbers unmasked (from the role or the user).
    pub privacy: bool,
}

/// Roles every tenant has without storing them.
pub const PREDEFINED_ROLES: [&str; 5] =
    ["admin", "privacyadmin", "phonebook", "click2call", "user"];

impl Access {
    /// No access anywhere (a standard user: only their own extension, see the handlers).
    pub fn none() -> Access {
        Access {
            levels: [Level::None; Area::ALL.len()],
            privacy: false,
        }
    }

    fn all(level: Level) -> Access {
        Access {
            levels: [level; Area::ALL.len()],
            privacy: false,
        }
    }

    /// The access of a user with `role` (a predefined role, else the stored `custom` one; an
    /// unknown role gives no access) in tenant `domain`, plus the user's own privacy right.
    pub fn of(role: &str, custom: Option<&Role>, domain: &str, user_privacy: bool) -> Access {
        let mut a = match (role, custom) {
            ("admin", _) => Access::all(Level::Write),
            ("privacyadmin", _) => Access {
                privacy: true,
                ..Access::all(Level::Write)
            },
            ("click2call", _) => {
                let mut a = Access::none();
                a.set(Area::CallControl, Level::Write);
                a
            }
            (_, Some(r)) => {
                let mut a = Access::none();
                for (area, level) in &r.access {
                    if let (Some(area), Some(level)) = (Area::parse(area), Level::parse(level)) {
                        a.set(area, level);
                    }
                }
                a.privacy = r.privacy;
                a
            }
            _ => Access::none(),
        };
        if domain != crate::store::DEFAULT_TENANT {
            a.set(Area::Tenant, Level::None);
        }
        a.privacy |= user_privacy;
        a
    }

    fn index(area: Area) -> usize {
        Area::ALL.iter().position(|a| *a == area).unwrap_or(0)
    }

    fn set(&mut self, area: Area, level: Level) {
        self.levels[Access::index(area)] = level;
    }

    /// The level on an area.
    pub fn level(&self, area: Area) -> Level {
        self.levels[Access::index(area)]
    }

    /// Whether the level on `area` is at least `level`.
    pub fn allows(&self, area: Area, level: Level) -> bool {
        self.level(area) >= level
    }

    /// Whether this access covers `other` everywhere (a user may only hand out roles that give
    /// no more than their own).
    pub fn covers(&self, other: &Access) -> bool {
        Area::ALL
            .into_iter()
            .all(|a| self.level(a) >= other.level(a))
            && (self.privacy || !other.privacy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn custom(access: &[(&str, &str)]) -> Role {
        Role {
            name: "operator".into(),
            priority: 1,
            privacy: false,
            access: access
                .iter()
                .map(|(a, l)| (a.to_string(), l.to_string()))
                .collect(),
        }
    }

    #[test]
    fn predefined_roles() {
        let admin = Access::of("admin", None, "default", false);
        assert!(admin.allows(Area::Tenant, Level::Write));
        assert!(!admin.privacy, "the seed's admin sees masked numbers");
        assert!(Access::of("privacyadmin", None, "default", false).privacy);
        let other = Access::of("admin", None, "other.example", false);
        assert!(other.allows(Area::Extension, Level::Write));
        assert_eq!(
            other.level(Area::Tenant),
            Level::None,
            "tenants: default only"
        );
        let c2c = Access::of("click2call", None, "default", false);
        assert!(c2c.allows(Area::CallControl, Level::Write));
        assert_eq!(c2c.level(Area::Cdr), Level::None);
        assert_eq!(
            Access::of("user", None, "default", true).level(Area::Cdr),
            Level::None
        );
        assert!(Access::of("user", None, "default", true).privacy);
    }

    #[test]
    fn custom_roles_and_levels() {
        let r = custom(&[
            ("CDR", "read"),
            ("EXTENSION", "list"),
            ("BOGUS", "write"),
            ("USER", "x"),
        ]);
        let a = Access::of("operator", Some(&r), "default", false);
        assert!(a.allows(Area::Cdr, Level::List));
        assert!(a.allows(Area::Cdr, Level::Read));
        assert!(!a.allows(Area::Cdr, Level::Write));
        assert!(a.allows(Area::Extension, Level::List));
        assert!(!a.allows(Area::Extension, Level::Read));
        assert_eq!(a.level(Area::User), Level::None);
        let admin = Access::of("admin", None, "default", false);
        assert!(admin.covers(&a));
        assert!(!a.covers(&admin));
        // A custom role cannot take a predefined name's rights.
        let fake = Access::of("admin", Some(&custom(&[])), "default", false);
        assert_eq!(fake, admin);
    }
}
