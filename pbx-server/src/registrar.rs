//! Registrar (RFC 3261 §10): one location per SIP account, last REGISTER wins.

use crate::directory::Directory;
use crate::guard::{Guard, Verdict};
use crate::store::Location;
use sip_core::msg::NameAddr;
use sip_core::{MessageExt, Peer, Request, Response};
use std::time::Instant;

/// What the core must persist after a REGISTER.
#[derive(Debug)]
pub enum LocationChange {
    /// Store or replace the account's location.
    Upsert(Location),
    /// Forget the account's location.
    Delete(i64),
}

/// Handles one REGISTER: returns the response and the change to persist.
pub fn handle_register(
    dir: &mut Directory,
    guard: &mut Guard,
    now: Instant,
    wall_ms: i64,
    req: &Request,
    peer: Peer,
) -> (Response, Option<LocationChange>) {
    let verdict = guard.check(
        now,
        (wall_ms / 1000) as u64,
        peer.addr.ip(),
        req,
        false,
        |u| dir.secret(u),
    );
    let username = match verdict {
        Verdict::Ok(u) => u,
        Verdict::Challenge(resp) => return (resp, None),
    };
    let reply = |status: u16, reason: &str| {
        let mut r = Response::for_request(req, status, reason);
        r.set_to_tag(&sip_core::transaction::random_token(10));
        r
    };
    let Some(account) = dir.account_by_username(&username).cloned() else {
        return (reply(403, "Forbidden"), None);
    };
    if !account.enabled {
        return (reply(403, "Account Disabled"), None);
    }
    let to_user = req
        .to_hdr()
        .and_then(|t| t.sip_uri().ok())
        .and_then(|u| u.user);
    if to_user.as_deref() != Some(username.as_str()) {
        guard.fail(
            now,
            peer.addr.ip(),
            &username,
            "To does not match the account",
        );
        return (reply(403, "Forbidden"), None);
    }
    if let Some(net) = account.acl {
        if !net.contains(&peer.addr.ip()) {
            guard.fail(
                now,
                peer.addr.ip(),
                &username,
                "source outside the account ACL",
            );
            return (reply(403, "Forbidden"), None);
        }
    }
    let contacts = req.headers.get_all("Contact");
    let header_expires = req
        .headers
        .get("Expires")
        .and_then(|e| e.trim().parse::<u32>().ok());
    if contacts.is_empty() {
        // A query: answer with the current binding.
        let mut resp = reply(200, "OK");
        if let Some(loc) = dir.location(account.id) {
            let left = ((loc.expires_at_ms - wall_ms).max(0) / 1000) as u32;
            resp.headers
                .push("Contact", format!("<{}>;expires={left}", loc.contact));
        }
        return (resp, None);
    }
    if contacts.len() == 1 && contacts[0].trim() == "*" {
        if header_expires != Some(0) {
            return (reply(400, "Wildcard Contact Needs Expires 0"), None);
        }
        dir.remove_location(account.id);
        return (reply(200, "OK"), Some(LocationChange::Delete(account.id)));
    }
    // One location per account: the first contact of the newest REGISTER wins.
    let Ok(contact) = NameAddr::parse(&contacts[0]) else {
        return (reply(400, "Bad Contact"), None);
    };
    let requested = contact
        .param("expires")
        .and_then(|e| e.parse::<u32>().ok())
        .or(header_expires)
        .unwrap_or(account.default_expires);
    if requested == 0 {
        dir.remove_location(account.id);
        return (reply(200, "OK"), Some(LocationChange::Delete(account.id)));
    }
    if requested < account.min_expires {
        let mut resp = reply(423, "Interval Too Brief");
        resp.headers
            .push("Min-Expires", account.min_expires.to_string());
        return (resp, None);
    }
    let granted = requested.min(account.max_expires);
    let loc = Location {
        account_id: account.id,
        contact: contact.uri.clone(),
        source_ip: peer.addr.ip().to_string(),
        source_port: i64::from(peer.addr.port()),
        transport: peer.transport.as_str().to_string(),
        expires_at_ms: wall_ms + i64::from(granted) * 1000,
        user_agent: req
            .headers
            .get("User-Agent")
            .unwrap_or_default()
            .to_string(),
        registered_at_ms: wall_ms,
    };
    dir.set_location(loc.clone());
    tracing::info!(account = %username, src = %peer.addr, granted, "registered");
    let mut resp = reply(200, "OK");
    resp.headers
        .push("Contact", format!("<{}>;expires={granted}", contact.uri));
    resp.headers.push("Expires", granted.to_string());
    (resp, Some(LocationChange::Upsert(loc)))
}
