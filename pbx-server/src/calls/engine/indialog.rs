//! Inside established dialogs: requests passed from one side to the other (re-INVITE,
//! UPDATE, INFO...), hang-ups, and the re-INVITEs the PBX sends on its own.

use super::super::cdr::{cause, status};
use super::super::dialog::{Dialog, Local};
use super::super::legs::{
    rewrite_sdp, sdp_is_hold, sdp_media_addr, with_direction, Phase, Purpose, Side,
};
use super::super::Now;
use super::{Engine, Owner};
use crate::control::{CallOp, CallOpError};
use crate::directory::Directory;
use sip_core::sdp::Direction;
use sip_core::transaction::{Endpoint, TxnId};
use sip_core::{MessageExt, Method, Request, Response, SipMessage};
use std::net::SocketAddr;

/// What a REFER's `Refer-To` asks for.
#[derive(Debug, PartialEq, Eq)]
enum ReferTo {
    /// Blind transfer to this number (the URI's user part).
    Blind(String),
    /// Attended transfer: replace the dialog with this Call-ID and tags (RFC 3891).
    Replaces { call_id: String, tags: Vec<String> },
}

/// Decodes `%XX` escapes (invalid ones are kept as they are).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a `Refer-To` value: `<sip:205@pbx>` or
/// `<sip:203@pbx?Replaces=callid%3Bto-tag%3Dx%3Bfrom-tag%3Dy>`.
fn parse_refer_to(value: &str) -> Option<ReferTo> {
    let v = value.trim();
    let uri = match (v.find('<'), v.rfind('>')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        _ => v.split(';').next().unwrap_or(v),
    };
    let (uri, headers) = uri.split_once('?').unwrap_or((uri, ""));
    for h in headers.split('&') {
        let Some((name, val)) = h.split_once('=') else {
            continue;
        };
        if name.eq_ignore_ascii_case("Replaces") {
            let decoded = percent_decode(val);
            let mut parts = decoded.split(';');
            let call_id = parts.next()?.trim().to_string();
            if call_id.is_empty() {
                return None;
            }
            let tags = parts
                .filter_map(|p| p.split_once('='))
                .filter(|(n, _)| {
                    n.trim().eq_ignore_ascii_case("to-tag")
                        || n.trim().eq_ignore_ascii_case("from-tag")
                })
                .map(|(_, t)| t.trim().to_string())
                .collect();
            return Some(ReferTo::Replaces { call_id, tags });
        }
    }
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))
        .or_else(|| uri.strip_prefix("tel:"))?;
    let user = rest.split(['@', ';']).next().unwrap_or_default();
    let user = percent_decode(user);
    (!user.is_empty()).then_some(ReferTo::Blind(user))
}

/// The sipfrag status reporting a failed transfer operation.
fn refer_failure(e: &CallOpError) -> &'static str {
    match e {
        CallOpError::NotFound(_) => "SIP/2.0 404 Not Found",
        CallOpError::NoDevice(_) => "SIP/2.0 480 Temporarily Unavailable",
        CallOpError::BadArguments(_) => "SIP/2.0 400 Bad Request",
        CallOpError::NotAParty(_) => "SIP/2.0 403 Forbidden",
        CallOpError::InvalidState(_) => "SIP/2.0 491 Request Pending",
    }
}

/// A NOTIFY of a REFER's implicit subscription (RFC 3515) carrying `frag`.
fn refer_notify(
    ep: &mut Endpoint,
    now: Now,
    local: &Local,
    d: &mut Dialog,
    frag: &str,
    last: bool,
) -> Option<TxnId> {
    let mut n = d.request(Method::Notify, local);
    n.headers.push("Event", "refer");
    n.headers.push(
        "Subscription-State",
        if last {
            "terminated;reason=noresource"
        } else {
            "active;expires=60"
        },
    );
    n.headers
        .push("Contact", local.contact(&d.contact_user, d.peer));
    n.headers
        .push("Content-Type", "message/sipfrag;version=2.0");
    n.body = format!("{frag}\r\n").into_bytes();
    ep.send_request(now.mono, n, d.peer).ok()
}

fn is_sdp(headers: &sip_core::msg::Headers) -> bool {
    headers
        .get("Content-Type")
        .is_some_and(|c| c.contains("application/sdp"))
}

impl Engine {
    /// An in-dialog request (To tag present) for one of our calls, REFER included: the PBX
    /// acts on a REFER itself (blind or attended transfer), which needs the directory.
    pub fn on_in_dialog_request(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        txn: Option<TxnId>,
        req: Request,
    ) {
        self.in_dialog(ep, Some(dir), now, txn, req);
    }

    /// An in-dialog request (To tag present) for one of our calls; without the directory
    /// a REFER is passed on like any other request.
    pub fn on_in_dialog(&mut self, ep: &mut Endpoint, now: Now, txn: Option<TxnId>, req: Request) {
        self.in_dialog(ep, None, now, txn, req);
    }

    fn in_dialog(
        &mut self,
        ep: &mut Endpoint,
        dir: Option<&Directory>,
        now: Now,
        txn: Option<TxnId>,
        req: Request,
    ) {
        let call_id = req.call_id().to_string();
        let (id, side) = if let Some(id) = self.by_a_callid.get(&call_id) {
            (*id, Side::A)
        } else if let Some((id, _)) = self.by_b_callid.get(&call_id) {
            (*id, Side::B)
        } else {
            if let Some(t) = txn {
                let _ = ep.respond(
                    now.mono,
                    t,
                    Response::for_request(&req, 481, "Call/Transaction Does Not Exist"),
                );
            }
            return;
        };
        let Some(txn) = txn else {
            return; // ACKs: the transaction layer already stopped our 2xx retransmissions.
        };
        if side == Side::B {
            // Requests from a loser fork are refused; only the winner is in the call.
            let from_winner = self.by_b_callid.get(&call_id).map(|(_, l)| *l)
                == self.calls.get(&id).and_then(|c| c.winner);
            if !from_winner {
                if req.method == Method::Bye {
                    let _ = ep.respond(now.mono, txn, Response::for_request(&req, 200, "OK"));
                } else {
                    let _ = ep.respond(
                        now.mono,
                        txn,
                        Response::for_request(&req, 481, "Call/Transaction Does Not Exist"),
                    );
                }
                return;
            }
        }
        match req.method {
            Method::Bye => {
                let _ = ep.respond(now.mono, txn, Response::for_request(&req, 200, "OK"));
                // A consultation by keys ends its own way (transfer, or back to the call).
                if dir.is_some_and(|dir| self.consult_bye(ep, dir, now, id, side)) {
                    return;
                }
                self.hangup(ep, now, id, Some(side));
            }
            Method::Refer if dir.is_some() => {
                if let Some(dir) = dir {
                    self.on_refer(ep, dir, now, id, side, txn, &req);
                }
            }
            _ => self.forward(ep, now, id, side, txn, req),
        }
    }

    /// A REFER from `side` of call `id`: 202, then the PBX runs the blind or attended
    /// transfer itself (as the CTI would) and reports with NOTIFYs (100 Trying, then 200 OK
    /// or the failure). On success the transfer operation has already sent the referrer
    /// its BYE; the final NOTIFY follows on the dialog it had (the phone may answer 481).
    #[allow(clippy::too_many_arguments)]
    fn on_refer(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        id: u64,
        side: Side,
        txn: TxnId,
        req: &Request,
    ) {
        let local = self.local;
        let refuse = |ep: &mut Endpoint, status: u16, reason: &str| {
            let _ = ep.respond(now.mono, txn, Response::for_request(req, status, reason));
        };
        let Some(call) = self.calls.get(&id) else {
            return refuse(ep, 481, "Call/Transaction Does Not Exist");
        };
        let Some(by) = call.party(side).map(str::to_string) else {
            return refuse(ep, 403, "Forbidden");
        };
        let unique_id = call.cdr.unique_id.clone();
        let Some(refer_to) = req.headers.get("Refer-To").and_then(parse_refer_to) else {
            return refuse(ep, 400, "Bad Refer-To");
        };
        let op = match refer_to {
            ReferTo::Blind(target) => CallOp::BlindTransfer {
                call: unique_id,
                by: by.clone(),
                target,
            },
            ReferTo::Replaces { call_id, tags } => match self.consultation(&call_id, &tags, &by) {
                Some(consult) => CallOp::AttendedTransfer {
                    call: unique_id,
                    consult,
                    by: by.clone(),
                },
                None => return refuse(ep, 481, "Replaced Dialog Does Not Exist"),
            },
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(d) = call.dialog_mut(side) else {
            return refuse(ep, 481, "Call/Transaction Does Not Exist");
        };
        let mut accepted = Response::for_request(req, 202, "Accepted");
        accepted
            .headers
            .push("Contact", local.contact(&d.contact_user, d.peer));
        let _ = ep.respond(now.mono, txn, accepted);
        if let Some(t) = refer_notify(ep, now, &local, d, "SIP/2.0 100 Trying", false) {
            self.owners.insert(t, Owner::Fire);
        }
        // The referrer's dialog as it is now: the operation may BYE it (one CSeq) and drop it.
        let Some(mut snapshot) = self
            .calls
            .get_mut(&id)
            .and_then(|c| c.dialog_mut(side))
            .cloned()
        else {
            return;
        };
        tracing::info!(call = id, by = %by, ?op, "REFER");
        let result = self.call_op(ep, dir, now, op);
        let sent = match &result {
            Ok(_) => {
                snapshot.local_cseq += 1;
                refer_notify(ep, now, &local, &mut snapshot, "SIP/2.0 200 OK", true)
            }
            Err(e) => {
                tracing::info!(call = id, error = %e, "REFER refused");
                let frag = refer_failure(e);
                match self.calls.get_mut(&id).and_then(|c| c.dialog_mut(side)) {
                    Some(d) => refer_notify(ep, now, &local, d, frag, true),
                    None => refer_notify(ep, now, &local, &mut snapshot, frag, true),
                }
            }
        };
        if let Some(t) = sent {
            self.owners.insert(t, Owner::Fire);
        }
    }

    /// The record id of the call whose dialog with `by`'s phone has `call_id` (the dialog a
    /// `Replaces` names); the tags, when given, must be that dialog's.
    fn consultation(&self, call_id: &str, tags: &[String], by: &str) -> Option<String> {
        let (y, side) = if let Some(y) = self.by_a_callid.get(call_id) {
            (*y, Side::A)
        } else {
            let (y, leg) = self.by_b_callid.get(call_id)?;
            let c = self.calls.get(y)?;
            (c.winner == Some(*leg)).then_some((*y, Side::B))?
        };
        let c = self.calls.get(&y)?;
        let d = match side {
            Side::A => &c.a,
            Side::B => &c.legs.get(c.winner?)?.dialog,
        };
        let ours = [d.local_tag.as_str(), d.remote_tag.as_str()];
        if d.call_id != call_id || tags.iter().any(|t| !ours.contains(&t.as_str())) {
            return None;
        }
        (c.party(side) == Some(by)).then(|| c.cdr.unique_id.clone())
    }

    /// Forwards an in-dialog request to the other side (re-INVITE for hold/resume, INFO,
    /// UPDATE, ...), with SDP rewritten to keep media on the relay.
    fn forward(
        &mut self,
        ep: &mut Endpoint,
        now: Now,
        id: u64,
        from: Side,
        txn: TxnId,
        req: Request,
    ) {
        let local = self.local;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let offer = matches!(req.method, Method::Invite | Method::Update);
        if call.phase != Phase::Connected || (offer && call.reinvite.is_some()) {
            let _ = ep.respond(
                now.mono,
                txn,
                Response::for_request(&req, 491, "Request Pending"),
            );
            return;
        }
        let to = from.other();
        let sdp = is_sdp(&req.headers) && !req.body.is_empty();
        if offer && sdp {
            call.signal(from, sdp_media_addr(&req.body));
            call.media(from).received = Some(req.body.clone());
        }
        let port = call.port(to);
        let body = if sdp {
            let m = call.media(to);
            m.version += 1;
            let v = m.version;
            let out = rewrite_sdp(&req.body, local.ip, port, v).unwrap_or_default();
            call.media(to).sent = Some(out.clone());
            out
        } else {
            req.body.clone()
        };
        let Some(dialog) = call.dialog_mut(to) else {
            return;
        };
        let mut out = dialog.request(req.method.clone(), &local);
        let peer = dialog.peer;
        for name in ["Content-Type", "Event", "Subscription-State", "Supported"] {
            if let Some(v) = req.headers.get(name) {
                out.headers.push(name, v.to_string());
            }
        }
        out.body = body;
        match ep.send_request(now.mono, out, peer) {
            Ok(t) => {
                self.owners.insert(
                    t,
                    Owner::Forward {
                        call: id,
                        to,
                        origin: txn,
                        origin_req: Box::new(req),
                    },
                );
            }
            Err(_) => {
                let _ = ep.respond(
                    now.mono,
                    txn,
                    Response::for_request(&req, 500, "Server Internal Error"),
                );
            }
        }
    }

    /// The far side answered a request we forwarded: acknowledge a 2xx to a re-INVITE
    /// ourselves and pass the response back with its SDP rewritten.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_forward_response(
        &mut self,
        ep: &mut Endpoint,
        now: Now,
        txn: TxnId,
        id: u64,
        to: Side,
        origin: TxnId,
        origin_req: &Request,
        resp: Response,
    ) {
        let local = self.local;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if resp.status == 100 {
            return;
        }
        let from = to.other();
        let accepted_invite =
            origin_req.method == Method::Invite && (200..300).contains(&resp.status);
        if accepted_invite {
            // An accepted re-INVITE sets or clears hold, by the side that sent it.
            match sdp_is_hold(&origin_req.body) {
                Some(true) => call.held_by = Some(from),
                Some(false) if call.held_by == Some(from) => call.held_by = None,
                _ => {}
            }
            // ACK the far side ourselves; the origin's ACK ends at us.
            if let Some(d) = call.dialog_mut(to) {
                let ack = d.ack(resp.cseq().0, &local);
                let peer = d.peer;
                ep.send_stateless(peer, &SipMessage::Request(ack.clone()));
                self.owners.insert(
                    txn,
                    Owner::Acked {
                        call: id,
                        ack: Box::new(ack),
                        peer,
                    },
                );
            }
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let mut r = Response::for_request(origin_req, resp.status, &resp.reason);
        if is_sdp(&resp.headers) && !resp.body.is_empty() {
            call.signal(to, sdp_media_addr(&resp.body));
            call.media(to).received = Some(resp.body.clone());
            let port = call.port(from);
            let m = call.media(from);
            m.version += 1;
            let v = m.version;
            if let Some(body) = rewrite_sdp(&resp.body, local.ip, port, v) {
                call.media(from).sent = Some(body.clone());
                r.headers.push("Content-Type", "application/sdp");
                r.body = body;
            }
        } else if !resp.body.is_empty() {
            if let Some(ct) = resp.headers.get("Content-Type") {
                r.headers.push("Content-Type", ct.to_string());
            }
            r.body = resp.body.clone();
        }
        if accepted_invite {
            let user = match from {
                Side::A => call.a.contact_user.clone(),
                Side::B => call.caller_ext.clone(),
            };
            if let Some(p) = call.dialog_mut(from).map(|d| d.peer) {
                r.headers.push("Contact", local.contact(&user, p));
            }
        }
        self.touch(id);
        let _ = ep.respond(now.mono, origin, r);
    }

    /// Ends a call because `from` hung up (or the PBX did, `None`): before the answer like a
    /// CANCEL, after it with BYE towards every other side.
    pub(super) fn hangup(&mut self, ep: &mut Endpoint, now: Now, id: u64, from: Option<Side>) {
        let local = self.local;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.phase != Phase::Connected {
            self.cancel_forks(ep, now, id);
            self.release_upstream(
                ep,
                now,
                id,
                487,
                "Request Terminated",
                from == Some(Side::A),
            );
            self.finish(now, id, status::CANCELED, cause::CANCELED);
            return;
        }
        let mut byes = Vec::new();
        for side in [Side::A, Side::B] {
            if from != Some(side) {
                if let Some(d) = call.dialog_mut(side) {
                    byes.push((d.request(Method::Bye, &local), d.peer));
                }
            }
        }
        for (bye, peer) in byes {
            if let Ok(t) = ep.send_request(now.mono, bye, peer) {
                self.owners.insert(t, Owner::Fire);
            }
        }
        self.finish(now, id, status::OK, cause::NCC);
    }

    /// Sends a re-INVITE to `to` on the PBX's own account: the last SDP we sent it (or
    /// `body`) with `direction`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send_reinvite(
        &mut self,
        ep: &mut Endpoint,
        now: Now,
        id: u64,
        to: Side,
        direction: Direction,
        purpose: Purpose,
        body: Option<Vec<u8>>,
    ) -> Result<(), CallOpError> {
        let local = self.local;
        let call = self
            .calls
            .get_mut(&id)
            .ok_or_else(|| CallOpError::NotFound(id.to_string()))?;
        if call.reinvite.is_some() {
            return Err(CallOpError::InvalidState(
                "another re-INVITE of this call is in progress".into(),
            ));
        }
        let base = body
            .or_else(|| call.media(to).sent.clone())
            .ok_or_else(|| CallOpError::InvalidState("no session description yet".into()))?;
        let m = call.media(to);
        m.version += 1;
        let v = m.version;
        let sdp = with_direction(&base, direction, local.ip, v)
            .ok_or_else(|| CallOpError::InvalidState("unusable session description".into()))?;
        call.media(to).sent = Some(sdp.clone());
        let dialog = call
            .dialog_mut(to)
            .ok_or_else(|| CallOpError::InvalidState("that party has no dialog".into()))?;
        let mut req = dialog.request(Method::Invite, &local);
        let peer = dialog.peer;
        req.headers.push("Allow", sip_core::ALLOW);
        req.headers.push("Content-Type", "application/sdp");
        req.body = sdp;
        let t = ep
            .send_request(now.mono, req, peer)
            .map_err(|e| CallOpError::InvalidState(format!("cannot send re-INVITE: {e}")))?;
        call.reinvite = Some(to);
        self.owners.insert(
            t,
            Owner::Reinvite {
                call: id,
                to,
                purpose,
            },
        );
        tracing::info!(call = id, ?to, ?purpose, "re-INVITE");
        Ok(())
    }

    /// The answer to a PBX re-INVITE; a re-INVITE that had to wait for it goes out after.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_reinvite_response(
        &mut self,
        ep: &mut Endpoint,
        now: Now,
        txn: TxnId,
        id: u64,
        to: Side,
        purpose: Purpose,
        resp: Response,
    ) {
        let final_response = resp.status >= 200;
        self.reinvite_answered(ep, now, txn, id, to, purpose, resp);
        if final_response {
            self.send_deferred_repoint(ep, now, id);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn reinvite_answered(
        &mut self,
        ep: &mut Endpoint,
        now: Now,
        txn: TxnId,
        id: u64,
        to: Side,
        purpose: Purpose,
        resp: Response,
    ) {
        let local = self.local;
        if resp.status < 200 {
            return;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.reinvite = None;
        self.touch(id);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if !(200..300).contains(&resp.status) {
            tracing::warn!(
                call = id,
                status = resp.status,
                ?purpose,
                "re-INVITE refused"
            );
            if purpose == Purpose::Repoint {
                // The moved party could not be pointed at this call's relay: the transfer
                // failed and the call cannot carry media; end it.
                self.hangup_with(ep, now, id, cause::ATXFER_REFUSED);
            }
            return;
        }
        if let Some(d) = call.dialog_mut(to) {
            let ack = d.ack(resp.cseq().0, &local);
            let peer = d.peer;
            ep.send_stateless(peer, &SipMessage::Request(ack.clone()));
            self.owners.insert(
                txn,
                Owner::Acked {
                    call: id,
                    ack: Box::new(ack),
                    peer,
                },
            );
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let answer = (!resp.body.is_empty()).then(|| resp.body.clone());
        let addr = answer.as_deref().and_then(sdp_media_addr);
        if answer.is_some() {
            call.media(to).received = answer;
        }
        match purpose {
            Purpose::Hold { by } => {
                call.held_by = Some(by);
                call.pbx_held = Some(to);
                // Nothing reaches the held party until the resume (music on hold will).
                call.signal(to, Some(SocketAddr::from(([0, 0, 0, 0], 0))));
            }
            Purpose::Resume { .. } | Purpose::Unhold => {
                call.held_by = None;
                call.pbx_held = None;
                call.signal(to, addr);
            }
            Purpose::Repoint => {
                call.signal(to, addr);
                if call.pbx_held.is_some() || call.held_by.is_some() {
                    let kept = to.other();
                    let _ = self.send_reinvite(
                        ep,
                        now,
                        id,
                        kept,
                        Direction::SendRecv,
                        Purpose::Unhold,
                        None,
                    );
                }
            }
        }
    }

    /// The PBX ends a connected call with `cause` on the current step.
    pub(super) fn hangup_with(&mut self, ep: &mut Endpoint, now: Now, id: u64, why: &str) {
        let local = self.local;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let mut byes = Vec::new();
        for side in [Side::A, Side::B] {
            if let Some(d) = call.dialog_mut(side) {
                byes.push((d.request(Method::Bye, &local), d.peer));
            }
        }
        for (bye, peer) in byes {
            if let Ok(t) = ep.send_request(now.mono, bye, peer) {
                self.owners.insert(t, Owner::Fire);
            }
        }
        self.finish(now, id, status::OK, why);
    }
}

#[cfg(test)]
mod refer_tests {
    use super::{parse_refer_to, ReferTo};

    #[test]
    fn refer_to_blind_and_replaces() {
        assert_eq!(
            parse_refer_to("<sip:205@10.0.0.1:5060>"),
            Some(ReferTo::Blind("205".into()))
        );
        assert_eq!(
            parse_refer_to("sip:%2B39205@pbx;user=phone"),
            Some(ReferTo::Blind("+39205".into()))
        );
        assert_eq!(
            parse_refer_to("<sip:203@pbx?Replaces=abc%40h%3Bto-tag%3Dx%3Bfrom-tag%3Dy>;x=1"),
            Some(ReferTo::Replaces {
                call_id: "abc@h".into(),
                tags: vec!["x".into(), "y".into()]
            })
        );
        assert_eq!(parse_refer_to("<http://x>"), None);
        assert_eq!(parse_refer_to("<sip:@pbx>"), None);
        assert_eq!(parse_refer_to("<sip:1@p?Replaces=%3Bto-tag%3Dx>"), None);
    }
}
