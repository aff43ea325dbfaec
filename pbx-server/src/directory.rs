//! The in-memory picture the SIP core works from: effective extension and account
//! settings (templates already resolved by the store) and the live locations.

use crate::control::ServiceChange;
use crate::store::{self, Location};
use ipnet::IpNet;
use shared_protocol::{ForwardKind, Services};
use std::collections::HashMap;
use std::net::SocketAddr;

/// What to do when an extension does not answer, is busy or unavailable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverflowAction {
    /// End the call with the matching SIP status.
    Hangup,
    /// Ring another extension.
    Extension(String),
}

impl OverflowAction {
    /// Parses the stored form (`hangup`, `extension:202`); unknown forms hang up.
    pub fn parse(s: &str) -> OverflowAction {
        match s.split_once(':') {
            Some(("extension", n)) if !n.trim().is_empty() => {
                OverflowAction::Extension(n.trim().to_string())
            }
            _ => OverflowAction::Hangup,
        }
    }
}

/// Effective settings of one extension.
#[derive(Debug, Clone)]
pub struct Extension {
    /// Row id.
    pub id: i64,
    /// The number dialled to reach it.
    pub number: String,
    /// Display name (first + last name).
    pub name: String,
    /// Disabled extensions neither call nor ring.
    pub enabled: bool,
    /// Max concurrent calls, 0 = unlimited.
    pub call_limit: u32,
    /// Calls at which the extension counts as busy, 0 = unlimited.
    pub busy_level: u32,
    /// Seconds to ring before the no-answer overflow.
    pub ring_timeout_s: u32,
    /// Overflow on no answer.
    pub on_no_answer: OverflowAction,
    /// Overflow on busy.
    pub on_busy: OverflowAction,
    /// Overflow on unavailable.
    pub on_unavailable: OverflowAction,
    /// Pickup groups it is a member of.
    pub pickup_groups: Vec<String>,
    /// Pickup groups it may pick up calls from.
    pub pickup_allowed: Vec<String>,
}

/// Effective settings of one SIP account.
#[derive(Debug, Clone)]
pub struct Account {
    /// Row id.
    pub id: i64,
    /// SIP username.
    pub username: String,
    /// Disabled accounts cannot register or call.
    pub enabled: bool,
    /// MD5 HA1.
    pub ha1_md5: String,
    /// SHA-256 HA1.
    pub ha1_sha256: String,
    /// Allowed source subnet, `None` = anywhere.
    pub acl: Option<IpNet>,
    /// INVITEs must come from the registered address and port.
    pub registration_check: bool,
    /// Minimum expiry accepted (423 below).
    pub min_expires: u32,
    /// Maximum expiry granted.
    pub max_expires: u32,
    /// Expiry when the phone proposes none.
    pub default_expires: u32,
    /// Number of the extension the account belongs to.
    pub extension: String,
}

/// Directory plus locations.
#[derive(Debug, Default)]
pub struct Directory {
    extensions: HashMap<String, Extension>,
    accounts: HashMap<String, Account>,
    /// Account usernames by account id.
    by_id: HashMap<i64, String>,
    /// Account usernames by extension number.
    by_extension: HashMap<String, Vec<String>>,
    locations: HashMap<i64, Location>,
    /// Services (DND, forwards, fork to mobile) by extension number; missing = all off.
    services: HashMap<String, Services>,
}

impl Directory {
    /// Builds the picture from the store's resolved configuration.
    pub fn from_store(d: store::Directory, locations: Vec<Location>) -> Directory {
        let mut out = Directory::default();
        for e in d.extensions {
            let ext = Extension {
                id: e.id,
                name: format!("{} {}", e.first_name, e.last_name)
                    .trim()
                    .to_string(),
                number: e.number,
                enabled: e.enabled,
                call_limit: e.call_limit.max(0) as u32,
                busy_level: e.busy_level.max(0) as u32,
                ring_timeout_s: e.ring_timeout_s.max(1) as u32,
                on_no_answer: OverflowAction::parse(&e.overflow_noanswer),
                on_busy: OverflowAction::parse(&e.overflow_busy),
                on_unavailable: OverflowAction::parse(&e.overflow_unavailable),
                pickup_groups: e.pickup_groups,
                pickup_allowed: e.pickup_allowed,
            };
            out.extensions.insert(ext.number.clone(), ext);
        }
        for a in d.accounts {
            let acl = a
                .acl
                .as_deref()
                .filter(|s| !s.is_empty())
                .and_then(|s| {
                    s.parse::<IpNet>()
                        .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                        .map_err(|_| tracing::warn!(account = %a.username, acl = s, "ignoring unparsable ACL"))
                        .ok()
                });
            let acc = Account {
                id: a.id,
                enabled: a.enabled,
                ha1_md5: a.ha1_md5,
                ha1_sha256: a.ha1_sha256,
                acl,
                registration_check: a.registration_check,
                min_expires: a.min_expires.max(0) as u32,
                max_expires: a.max_expires.max(1) as u32,
                default_expires: a.default_expires.max(1) as u32,
                extension: a.extension_number,
                username: a.username,
            };
            out.by_id.insert(acc.id, acc.username.clone());
            out.by_extension
                .entry(acc.extension.clone())
                .or_default()
                .push(acc.username.clone());
            out.accounts.insert(acc.username.clone(), acc);
        }
        for l in locations {
            out.locations.insert(l.account_id, l);
        }
        for s in d.services {
            if out.extensions.contains_key(&s.number) {
                out.services.insert(s.number, s.services);
            }
        }
        out
    }

    /// The picture after a configuration change: `d` (one tenant's freshly loaded
    /// configuration) with the live locations of the accounts that still exist under the same
    /// username, and the in-memory services of the extensions that still exist (they may be
    /// newer than the store's copy). Also returns the ids of the locations dropped.
    pub fn reloaded(&self, mut d: store::Directory) -> (Directory, Vec<i64>) {
        let mut keep = Vec::new();
        let mut dropped = Vec::new();
        for l in self.locations.values() {
            let old = self.account_by_id(l.account_id).map(|a| &a.username);
            let same = d
                .accounts
                .iter()
                .any(|a| a.id == l.account_id && Some(&a.username) == old);
            if same {
                keep.push(l.clone());
            } else {
                dropped.push(l.account_id);
            }
        }
        for e in &d.extensions {
            let old = self.extensions.values().find(|o| o.id == e.id);
            if let Some(services) = old.and_then(|o| self.services.get(&o.number)) {
                d.services.retain(|s| s.extension_id != e.id);
                d.services.push(store::ExtensionServices {
                    extension_id: e.id,
                    tenant_domain: e.tenant_domain.clone(),
                    number: e.number.clone(),
                    services: services.clone(),
                });
            }
        }
        (Directory::from_store(d, keep), dropped)
    }

    /// The services of an extension (all off when none were ever set).
    pub fn services(&self, number: &str) -> Services {
        self.services.get(number).cloned().unwrap_or_default()
    }

    /// Applies a service change to an extension and returns its services after it;
    /// `None` for an unknown extension.
    pub fn change_services(&mut self, number: &str, change: &ServiceChange) -> Option<Services> {
        if !self.extensions.contains_key(number) {
            return None;
        }
        let s = self.services.entry(number.to_string()).or_default();
        match change {
            ServiceChange::Dnd(on) => s.dnd = *on,
            ServiceChange::Fork2Mobile(on) => s.fork2mobile = *on,
            ServiceChange::Forward(kind, target) => {
                let target = target.clone().filter(|t| !t.is_empty());
                let slot = match kind {
                    ForwardKind::Unconditional => &mut s.forwards.unconditional,
                    ForwardKind::Busy => &mut s.forwards.busy,
                    ForwardKind::NoAnswer => &mut s.forwards.no_answer,
                    ForwardKind::Unavailable => &mut s.forwards.unavailable,
                };
                *slot = target;
            }
        }
        Some(s.clone())
    }

    /// An extension by number.
    pub fn extension(&self, number: &str) -> Option<&Extension> {
        self.extensions.get(number)
    }

    /// An account by SIP username.
    pub fn account_by_username(&self, username: &str) -> Option<&Account> {
        self.accounts.get(username)
    }

    /// The digest secrets of an account, for [`crate::guard::Guard::check`].
    pub fn secret(&self, username: &str) -> Option<crate::guard::Secret<'_>> {
        self.accounts.get(username).map(|a| crate::guard::Secret {
            ha1_md5: &a.ha1_md5,
            ha1_sha256: &a.ha1_sha256,
        })
    }

    /// Accounts of an extension.
    pub fn accounts_of(&self, number: &str) -> impl Iterator<Item = &Account> {
        self.by_extension
            .get(number)
            .into_iter()
            .flatten()
            .filter_map(|u| self.accounts.get(u))
    }

    /// An account by id.
    pub fn account_by_id(&self, id: i64) -> Option<&Account> {
        self.by_id.get(&id).and_then(|u| self.accounts.get(u))
    }

    /// Whether any account of an extension has a live location.
    pub fn reachable(&self, number: &str) -> bool {
        self.accounts_of(number)
            .any(|a| self.locations.contains_key(&a.id))
    }

    /// Every account.
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    /// Location of an account.
    pub fn location(&self, account_id: i64) -> Option<&Location> {
        self.locations.get(&account_id)
    }

    /// The location's source as a socket address.
    pub fn location_addr(loc: &Location) -> Option<SocketAddr> {
        let ip = loc.source_ip.parse().ok()?;
        Some(SocketAddr::new(ip, u16::try_from(loc.source_port).ok()?))
    }

    /// Stores a location (last REGISTER wins).
    pub fn set_location(&mut self, loc: Location) {
        self.locations.insert(loc.account_id, loc);
    }

    /// Removes a location.
    pub fn remove_location(&mut self, account_id: i64) {
        self.locations.remove(&account_id);
    }

    /// Drops locations whose expiry has passed; returns their account ids.
    pub fn expire(&mut self, wall_ms: i64) -> Vec<i64> {
        let gone: Vec<i64> = self
            .locations
            .values()
            .filter(|l| l.expires_at_ms <= wall_ms)
            .map(|l| l.account_id)
            .collect();
        for id in &gone {
            self.locations.remove(id);
        }
        gone
    }

    /// Number of live locations.
    pub fn registered(&self) -> usize {
        self.locations.len()
    }

    /// Every extension, sorted by number.
    pub fn extensions(&self) -> Vec<&Extension> {
        let mut v: Vec<&Extension> = self.extensions.values().collect();
        v.sort_by(|a, b| a.number.cmp(&b.number));
        v
    }

    /// Every location.
    pub fn locations(&self) -> impl Iterator<Item = &Location> {
        self.locations.values()
    }
}
