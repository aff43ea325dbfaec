//! Transfer by REFER (RFC 3515), the transferor's side: blind (Refer-To the target) and
//! attended (Refer-To the consulted party with `Replaces`, RFC 3891), progress from the
//! implicit subscription's NOTIFYs (`message/sipfrag`), and the BYE of the transferred call
//! once the transfer succeeded (RFC 5589).

use super::call::{CallId, CallState, EndReason};
use super::ua::{CallError, Owner, UaEvent, UserAgent};
use sip_core::transaction::TxnId;
use sip_core::{MessageExt, Method, Request, Response};
use std::time::Instant;

/// How a transfer we asked for is going.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferState {
    /// The other side accepted the REFER (202) and is calling the target.
    Accepted,
    /// A provisional report from the target (e.g. 180 ringing).
    Progress(u16),
    /// The target answered: the transfer is done and our call is hung up.
    Succeeded,
    /// The REFER was refused, or the target did not answer (final status).
    Failed(u16),
}

/// Percent-encodes the characters a `Replaces` value inside a URI header must not carry.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The status code of a `message/sipfrag` body (`SIP/2.0 180 Ringing`).
fn sipfrag_status(body: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(body).ok()?;
    let mut it = text.lines().next()?.split_whitespace();
    (it.next()? == "SIP/2.0").then_some(())?;
    it.next()?.parse().ok().filter(|s| (100..700).contains(s))
}

impl UserAgent {
    /// Blind transfer: asks the other side of `call` to call `target` instead of us.
    pub fn transfer(&mut self, now: Instant, call: CallId, target: &str) -> Result<(), CallError> {
        let dialog = self.outgoing_dialog(target)?;
        let refer_to = format!("<{}>", dialog.remote_target);
        self.send_refer(now, call, refer_to)
    }

    /// Attended transfer: the other side of `call` is connected to the other side of
    /// `consult` (a call we made to the transfer target), replacing our consult call.
    pub fn transfer_attended(
        &mut self,
        now: Instant,
        call: CallId,
        consult: CallId,
    ) -> Result<(), CallError> {
        let c = self
            .calls
            .get(&consult)
            .ok_or(CallError::NoSuchCall(consult))?;
        if c.state != CallState::Connected {
            return Err(CallError::InvalidState {
                call: consult,
                state: c.state.clone(),
                action: "be the target of an attended transfer",
            });
        }
        let d = &c.dialog;
        let replaces = format!(
            "{};to-tag={};from-tag={}",
            d.call_id,
            d.remote_tag.clone().unwrap_or_default(),
            d.local_tag
        );
        let refer_to = format!("<{}?Replaces={}>", d.remote_uri.uri, escape(&replaces));
        self.send_refer(now, call, refer_to)
    }

    fn send_refer(&mut self, now: Instant, id: CallId, refer_to: String) -> Result<(), CallError> {
        let local = self.local.clone();
        let peer = self.server_peer();
        let referred_by = self.cfg.account.aor().to_string();
        let call = self.calls.get_mut(&id).ok_or(CallError::NoSuchCall(id))?;
        if call.state != CallState::Connected || call.refer.is_some() {
            return Err(CallError::InvalidState {
                call: id,
                state: call.state.clone(),
                action: "transfer",
            });
        }
        let mut req = call.dialog.request(Method::Refer, &local);
        req.headers.push("Refer-To", refer_to);
        req.headers.push("Referred-By", referred_by);
        req.headers.push("Contact", local.contact());
        let txn = self.ep.send_request(now, req, peer)?;
        call.refer = Some(txn);
        self.owners.insert(txn, Owner::Refer(id));
        Ok(())
    }

    pub(crate) fn on_refer_response(&mut self, txn: TxnId, id: CallId, resp: &Response) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.refer != Some(txn) || resp.status < 200 {
            return;
        }
        self.owners.remove(&txn);
        let state = if resp.status < 300 {
            TransferState::Accepted
        } else {
            call.refer = None;
            TransferState::Failed(resp.status)
        };
        self.events.push_back(UaEvent::Transfer { call: id, state });
    }

    pub(crate) fn on_refer_timeout(&mut self, id: CallId) {
        if let Some(call) = self.calls.get_mut(&id) {
            call.refer = None;
            self.events.push_back(UaEvent::Transfer {
                call: id,
                state: TransferState::Failed(408),
            });
        }
    }

    /// A NOTIFY of the REFER's implicit subscription; answered by the caller.
    pub(crate) fn on_refer_notify(&mut self, now: Instant, id: CallId, req: &Request) {
        let Some(status) = sipfrag_status(&req.body) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.refer.is_none() {
            return;
        }
        let state = match status {
            100..=199 => TransferState::Progress(status),
            200..=299 => TransferState::Succeeded,
            _ => TransferState::Failed(status),
        };
        if status >= 200 {
            call.refer = None;
        }
        let done = state == TransferState::Succeeded;
        self.events.push_back(UaEvent::Transfer { call: id, state });
        if done {
            self.send_bye(now, id, EndReason::Transferred);
        }
    }
}

/// Whether an in-dialog NOTIFY reports on a REFER.
pub(crate) fn is_refer_notify(req: &Request) -> bool {
    req.headers
        .get("Event")
        .is_some_and(|e| e.trim().to_ascii_lowercase().starts_with("refer"))
        && req.method == Method::Notify
        && req.cseq().1 == Some(Method::Notify)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sipfrag_and_escaping() {
        assert_eq!(sipfrag_status(b"SIP/2.0 180 Ringing\r\n"), Some(180));
        assert_eq!(sipfrag_status(b"SIP/2.0 200 OK"), Some(200));
        assert_eq!(sipfrag_status(b"HTTP/1.1 200 OK"), None);
        assert_eq!(sipfrag_status(b"SIP/2.0 abc"), None);
        assert_eq!(sipfrag_status(b"\xff"), None);
        assert_eq!(escape("a@b;to-tag=x"), "a%40b%3Bto-tag%3Dx");
    }
}
