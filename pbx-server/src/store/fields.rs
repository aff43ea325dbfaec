//! Field values: validation, and `field=value` text as the CLI and admin tools send it, turned
//! into the typed overrides in one place.

use super::model::{AccountOverride, AccountOverrides, ExtensionOverride, ExtensionOverrides};
use super::model::{NewSipAccount, DEFAULT_TEMPLATE};
use super::{Result, Store, StoreError};

impl ExtensionOverride {
    /// The override for `field` (`call_limit`, `busy_level`, `ring_timeout_s`,
    /// `overflow_noanswer`, `overflow_busy`, `overflow_unavailable`); `None` = inherit.
    pub fn parse(field: &str, value: Option<&str>) -> Result<ExtensionOverride> {
        let n = || value.map(|v| parse_int(field, v)).transpose();
        let t = || value.map(str::to_string);
        Ok(match field {
            "call_limit" => ExtensionOverride::CallLimit(n()?),
            "busy_level" => ExtensionOverride::BusyLevel(n()?),
            "ring_timeout_s" => ExtensionOverride::RingTimeout(n()?),
            "overflow_noanswer" => ExtensionOverride::OverflowNoAnswer(t()),
            "overflow_busy" => ExtensionOverride::OverflowBusy(t()),
            "overflow_unavailable" => ExtensionOverride::OverflowUnavailable(t()),
            _ => {
                return Err(StoreError::Invalid(format!(
                    "unknown field {field}; one of call_limit, busy_level, ring_timeout_s, \
                 overflow_noanswer, overflow_busy, overflow_unavailable"
                )))
            }
        })
    }

    /// The column this override lives in (same name on the template).
    pub(crate) fn column(&self) -> &'static str {
        match self {
            ExtensionOverride::CallLimit(_) => "call_limit",
            ExtensionOverride::BusyLevel(_) => "busy_level",
            ExtensionOverride::RingTimeout(_) => "ring_timeout_s",
            ExtensionOverride::OverflowNoAnswer(_) => "overflow_noanswer",
            ExtensionOverride::OverflowBusy(_) => "overflow_busy",
            ExtensionOverride::OverflowUnavailable(_) => "overflow_unavailable",
        }
    }

    /// Writes this override into a set of overrides.
    pub(crate) fn apply(self, o: &mut ExtensionOverrides) {
        match self {
            ExtensionOverride::CallLimit(v) => o.call_limit = v,
            ExtensionOverride::BusyLevel(v) => o.busy_level = v,
            ExtensionOverride::RingTimeout(v) => o.ring_timeout_s = v,
            ExtensionOverride::OverflowNoAnswer(v) => o.overflow_noanswer = v,
            ExtensionOverride::OverflowBusy(v) => o.overflow_busy = v,
            ExtensionOverride::OverflowUnavailable(v) => o.overflow_unavailable = v,
        }
    }
}

impl AccountOverride {
    /// The override for `field` (`registration_check`, `acl`, `nat`, `min_expires`,
    /// `max_expires`, `default_expires`); `None` = inherit, `acl` `Some("")` = any address.
    pub fn parse(field: &str, value: Option<&str>) -> Result<AccountOverride> {
        let n = || value.map(|v| parse_int(field, v)).transpose();
        let b = || value.map(|v| parse_bool(field, v)).transpose();
        Ok(match field {
            "registration_check" => AccountOverride::RegistrationCheck(b()?),
            "acl" => AccountOverride::Acl(value.map(str::to_string)),
            "nat" => AccountOverride::Nat(b()?),
            "min_expires" => AccountOverride::MinExpires(n()?),
            "max_expires" => AccountOverride::MaxExpires(n()?),
            "default_expires" => AccountOverride::DefaultExpires(n()?),
            _ => {
                return Err(StoreError::Invalid(format!(
                    "unknown field {field}; one of registration_check, acl, nat, min_expires, \
                 max_expires, default_expires"
                )))
            }
        })
    }

    /// The column this override lives in (same name on the template).
    pub(crate) fn column(&self) -> &'static str {
        match self {
            AccountOverride::RegistrationCheck(_) => "registration_check",
            AccountOverride::Acl(_) => "acl",
            AccountOverride::Nat(_) => "nat",
            AccountOverride::MinExpires(_) => "min_expires",
            AccountOverride::MaxExpires(_) => "max_expires",
            AccountOverride::DefaultExpires(_) => "default_expires",
        }
    }

    /// Writes this override into a set of overrides.
    pub(crate) fn apply(self, o: &mut AccountOverrides) {
        match self {
            AccountOverride::RegistrationCheck(v) => o.registration_check = v,
            AccountOverride::Acl(v) => o.acl = v,
            AccountOverride::Nat(v) => o.nat = v,
            AccountOverride::MinExpires(v) => o.min_expires = v,
            AccountOverride::MaxExpires(v) => o.max_expires = v,
            AccountOverride::DefaultExpires(v) => o.default_expires = v,
        }
    }
}

/// Text-field setters of the default tenant, addressed by number / username / template name
/// (what the CLI has at hand).
impl Store {
    /// Sets (`Some`) or clears (`None`) one override of an extension.
    pub async fn set_extension_field(
        &self,
        number: &str,
        field: &str,
        value: Option<&str>,
    ) -> Result<()> {
        let o = ExtensionOverride::parse(field, value)?;
        let ext = self
            .extension_by_number(None, number)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("extension {number}")))?;
        self.set_extension_override(ext.id, o).await
    }

    /// Sets (`Some`) or clears (`None`) one override of a SIP account (`acl` '' = any).
    pub async fn set_account_field(
        &self,
        username: &str,
        field: &str,
        value: Option<&str>,
    ) -> Result<()> {
        let o = AccountOverride::parse(field, value)?;
        let acc = self
            .sip_account_by_username(username)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("account {username}")))?;
        self.set_account_override(acc.id, o).await
    }

    /// Sets a field of an extension template; every extension without an override follows.
    pub async fn set_extension_template_field(
        &self,
        template: &str,
        field: &str,
        value: &str,
    ) -> Result<()> {
        let tenant = self.default_tenant().await?;
        let mut t = self
            .extension_template(tenant.id, template)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("extension template {template}")))?;
        let mut o = ExtensionOverrides::default();
        ExtensionOverride::parse(field, Some(value))?.apply(&mut o);
        t.call_limit = o.call_limit.unwrap_or(t.call_limit);
        t.busy_level = o.busy_level.unwrap_or(t.busy_level);
        t.ring_timeout_s = o.ring_timeout_s.unwrap_or(t.ring_timeout_s);
        t.overflow_noanswer = o.overflow_noanswer.unwrap_or(t.overflow_noanswer);
        t.overflow_busy = o.overflow_busy.unwrap_or(t.overflow_busy);
        t.overflow_unavailable = o.overflow_unavailable.unwrap_or(t.overflow_unavailable);
        self.update_extension_template(&t).await
    }

    /// Sets a field of an account template (`acl` '' = any address).
    pub async fn set_account_template_field(
        &self,
        template: &str,
        field: &str,
        value: &str,
    ) -> Result<()> {
        let tenant = self.default_tenant().await?;
        let mut t = self
            .account_template(tenant.id, template)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("account template {template}")))?;
        let mut o = AccountOverrides::default();
        AccountOverride::parse(field, Some(value))?.apply(&mut o);
        t.registration_check = o.registration_check.unwrap_or(t.registration_check);
        if let Some(acl) = o.acl {
            t.acl = (!acl.is_empty()).then_some(acl);
        }
        t.nat = o.nat.unwrap_or(t.nat);
        t.min_expires = o.min_expires.unwrap_or(t.min_expires);
        t.max_expires = o.max_expires.unwrap_or(t.max_expires);
        t.default_expires = o.default_expires.unwrap_or(t.default_expires);
        self.update_account_template(&t).await
    }

    /// Adds a SIP account (default template, no overrides) to an extension of the default
    /// tenant; returns its id.
    pub async fn add_account_to_extension(
        &self,
        number: &str,
        username: &str,
        password: &str,
    ) -> Result<i64> {
        let ext = self
            .extension_by_number(None, number)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("extension {number}")))?;
        self.create_sip_account(&NewSipAccount {
            extension_id: ext.id,
            username: username.to_string(),
            password: password.to_string(),
            enabled: true,
            template: Some(DEFAULT_TEMPLATE.to_string()),
            overrides: AccountOverrides::default(),
        })
        .await
    }
}

fn parse_int(field: &str, v: &str) -> Result<i64> {
    v.trim()
        .parse()
        .map_err(|_| StoreError::Invalid(format!("{field}={v}: not an integer")))
}

fn parse_bool(field: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(StoreError::Invalid(format!(
            "{field}={v}: use 1/0, true/false, yes/no"
        ))),
    }
}

/// `hangup` or `extension:<digits>`.
pub(crate) fn check_action(v: &str) -> Result<()> {
    match v.split_once(':') {
        _ if v == "hangup" => Ok(()),
        Some(("extension", n)) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => Ok(()),
        _ => Err(StoreError::Invalid(format!(
            "overflow action {v:?}: use hangup or extension:<number>"
        ))),
    }
}

/// A CIDR or a single address; `None` and `""` mean any address.
pub(crate) fn check_acl(acl: Option<&str>) -> Result<()> {
    match acl {
        None | Some("") => Ok(()),
        Some(s) if s.parse::<ipnet::IpNet>().is_ok() || s.parse::<std::net::IpAddr>().is_ok() => {
            Ok(())
        }
        Some(s) => Err(StoreError::Invalid(format!(
            "acl {s:?}: use a CIDR such as 10.0.0.0/8"
        ))),
    }
}

pub(crate) fn check_expires(min: i64, default: i64, max: i64) -> Result<()> {
    if min <= 0 || !(min <= default && default <= max) {
        return Err(StoreError::Invalid(format!(
            "expires: need 0 < min ({min}) <= default ({default}) <= max ({max})"
        )));
    }
    Ok(())
}

pub(crate) fn non_empty(what: &str, v: &str) -> Result<()> {
    if v.trim().is_empty() {
        return Err(StoreError::Invalid(format!("{what} is empty")));
    }
    Ok(())
}

pub(crate) fn non_negative(what: &str, v: Option<i64>) -> Result<()> {
    match v {
        Some(n) if n < 0 => Err(StoreError::Invalid(format!("{what}={n}: must be >= 0"))),
        _ => Ok(()),
    }
}

pub(crate) fn positive(what: &str, v: Option<i64>) -> Result<()> {
    match v {
        Some(n) if n <= 0 => Err(StoreError::Invalid(format!("{what}={n}: must be > 0"))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_fields_become_typed_overrides() {
        assert_eq!(
            ExtensionOverride::parse("ring_timeout_s", Some("20")).ok(),
            Some(ExtensionOverride::RingTimeout(Some(20)))
        );
        assert_eq!(
            AccountOverride::parse("nat", Some("yes")).ok(),
            Some(AccountOverride::Nat(Some(true)))
        );
        assert_eq!(
            AccountOverride::parse("acl", None).ok(),
            Some(AccountOverride::Acl(None))
        );
        assert!(ExtensionOverride::parse("number", Some("1")).is_err());
        assert!(ExtensionOverride::parse("busy_level", Some("x")).is_err());
        assert!(check_action("extension:201").is_ok());
        assert!(check_action("dial:201").is_err());
        assert!(check_acl(Some("10.0.0.0/8")).is_ok());
        assert!(check_acl(Some("10.0.0.1")).is_ok());
        assert!(check_acl(Some("ten")).is_err());
        assert!(check_expires(60, 3600, 3600).is_ok());
        assert!(check_expires(60, 30, 3600).is_err());
    }
}
