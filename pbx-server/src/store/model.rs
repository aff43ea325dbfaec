//! Plain configuration records the store reads and writes, and their validation.
//!
//! Templatable fields exist twice: as plain values on a template, and as `Option`s on the
//! extension or account, where `None` inherits the template and `Some` is an override that
//! survives template edits.

use super::fields::{check_acl, check_action, check_expires, non_empty, non_negative, positive};
use super::Result;

/// Domain of the tenant the migration creates (single-tenant installs use only this one).
pub const DEFAULT_TENANT: &str = "default";
/// Name of the template every tenant gets, used when none is named.
pub const DEFAULT_TEMPLATE: &str = "Default";

/// A tenant. Its domain is also the SIP digest realm of its accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Tenant {
    pub id: i64,
    pub domain: String,
    pub name: String,
}

/// Extension template. Overflow actions are `hangup` or `extension:<number>`; 0 = unlimited.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct ExtensionTemplate {
    /// Ignored on create.
    pub id: i64,
    pub tenant_id: i64,
    pub name: String,
    pub call_limit: i64,
    pub busy_level: i64,
    pub ring_timeout_s: i64,
    pub overflow_noanswer: String,
    pub overflow_busy: String,
    pub overflow_unavailable: String,
}

impl ExtensionTemplate {
    /// A template with the schema's defaults (no limits, 30 s ring, hang up on overflow).
    pub fn new(tenant_id: i64, name: &str) -> ExtensionTemplate {
        ExtensionTemplate {
            id: 0,
            tenant_id,
            name: name.to_string(),
            call_limit: 0,
            busy_level: 0,
            ring_timeout_s: 30,
            overflow_noanswer: "hangup".into(),
            overflow_busy: "hangup".into(),
            overflow_unavailable: "hangup".into(),
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        non_empty("template name", &self.name)?;
        non_negative("call_limit", Some(self.call_limit))?;
        non_negative("busy_level", Some(self.busy_level))?;
        positive("ring_timeout_s", Some(self.ring_timeout_s))?;
        for a in [
            &self.overflow_noanswer,
            &self.overflow_busy,
            &self.overflow_unavailable,
        ] {
            check_action(a)?;
        }
        Ok(())
    }
}

/// SIP account template. `acl` is a CIDR (or one address); `None` or `""` = any address.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct AccountTemplate {
    /// Ignored on create.
    pub id: i64,
    pub tenant_id: i64,
    pub name: String,
    pub registration_check: bool,
    pub acl: Option<String>,
    pub nat: bool,
    pub min_expires: i64,
    pub max_expires: i64,
    pub default_expires: i64,
}

impl AccountTemplate {
    /// A template with the schema's defaults (any address, expires 60 / 3600 / 3600 s).
    pub fn new(tenant_id: i64, name: &str) -> AccountTemplate {
        AccountTemplate {
            id: 0,
            tenant_id,
            name: name.to_string(),
            registration_check: false,
            acl: None,
            nat: false,
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        non_empty("template name", &self.name)?;
        check_acl(self.acl.as_deref())?;
        check_expires(self.min_expires, self.default_expires, self.max_expires)
    }
}

/// Per-extension overrides of the extension template (`None` = inherit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct ExtensionOverrides {
    pub call_limit: Option<i64>,
    pub busy_level: Option<i64>,
    pub ring_timeout_s: Option<i64>,
    pub overflow_noanswer: Option<String>,
    pub overflow_busy: Option<String>,
    pub overflow_unavailable: Option<String>,
}

impl ExtensionOverrides {
    pub(crate) fn validate(&self) -> Result<()> {
        non_negative("call_limit", self.call_limit)?;
        non_negative("busy_level", self.busy_level)?;
        positive("ring_timeout_s", self.ring_timeout_s)?;
        for a in [
            &self.overflow_noanswer,
            &self.overflow_busy,
            &self.overflow_unavailable,
        ]
        .into_iter()
        .flatten()
        {
            check_action(a)?;
        }
        Ok(())
    }
}

/// One extension override to set (`Some`) or clear back to the template (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum ExtensionOverride {
    CallLimit(Option<i64>),
    BusyLevel(Option<i64>),
    RingTimeout(Option<i64>),
    OverflowNoAnswer(Option<String>),
    OverflowBusy(Option<String>),
    OverflowUnavailable(Option<String>),
}

/// Per-account overrides of the account template (`None` = inherit). `acl: Some("")` is an
/// explicit "any address", different from inheriting the template's ACL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct AccountOverrides {
    pub registration_check: Option<bool>,
    pub acl: Option<String>,
    pub nat: Option<bool>,
    pub min_expires: Option<i64>,
    pub max_expires: Option<i64>,
    pub default_expires: Option<i64>,
}

impl AccountOverrides {
    pub(crate) fn validate(&self) -> Result<()> {
        check_acl(self.acl.as_deref())?;
        for (name, v) in [
            ("min_expires", self.min_expires),
            ("max_expires", self.max_expires),
            ("default_expires", self.default_expires),
        ] {
            positive(name, v)?;
        }
        Ok(())
    }
}

/// One account override to set (`Some`) or clear back to the template (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum AccountOverride {
    RegistrationCheck(Option<bool>),
    /// `Some("")` = explicitly any address.
    Acl(Option<String>),
    Nat(Option<bool>),
    MinExpires(Option<i64>),
    MaxExpires(Option<i64>),
    DefaultExpires(Option<i64>),
}

/// An extension as stored (overrides unresolved).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Extension {
    pub id: i64,
    pub tenant_id: i64,
    pub number: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub mobile: String,
    pub enabled: bool,
    pub template_id: i64,
    pub overrides: ExtensionOverrides,
}

/// A new extension. `tenant_id: None` = the default tenant; `template: None` = `Default`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct NewExtension {
    pub tenant_id: Option<i64>,
    pub number: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub mobile: String,
    pub enabled: bool,
    pub template: Option<String>,
    pub overrides: ExtensionOverrides,
}

impl Default for NewExtension {
    fn default() -> Self {
        NewExtension {
            tenant_id: None,
            number: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            email: String::new(),
            mobile: String::new(),
            enabled: true,
            template: None,
            overrides: ExtensionOverrides::default(),
        }
    }
}

/// A SIP account as stored (overrides unresolved; the secret exists only as HA1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct SipAccount {
    pub id: i64,
    pub tenant_id: i64,
    pub extension_id: i64,
    pub username: String,
    pub ha1_md5: String,
    pub ha1_sha256: String,
    pub enabled: bool,
    pub template_id: i64,
    pub overrides: AccountOverrides,
}

/// A new SIP account on an extension (same tenant). `template: None` = `Default`.
#[derive(Clone)]
#[allow(missing_docs)]
pub struct NewSipAccount {
    pub extension_id: i64,
    pub username: String,
    /// Turned into HA1 (realm = tenant domain) and dropped.
    pub password: String,
    pub enabled: bool,
    pub template: Option<String>,
    pub overrides: AccountOverrides,
}

impl std::fmt::Debug for NewSipAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSipAccount")
            .field("extension_id", &self.extension_id)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("enabled", &self.enabled)
            .field("template", &self.template)
            .field("overrides", &self.overrides)
            .finish()
    }
}
