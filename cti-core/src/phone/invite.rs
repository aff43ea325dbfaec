//! Calls: outgoing INVITE with offer, digest on 407, ringing, answer and ACK; incoming
//! INVITE, answer and reject; CANCEL and BYE; hold and resume by re-INVITE; the far end's
//! re-INVITEs (hold, new media address) answered.

use super::call::{Call, CallId, CallState, EndReason, Party, PendingInvite, ALLOW};
use super::register::with_credentials;
use super::ua::{CallError, Owner, UaEvent, UserAgent};
use crate::media::params::{local_media, MediaParams};
use sip_core::sdp::{self, SessionDescription};
use sip_core::transaction::TxnId;
use sip_core::{MessageExt, Method, Peer, Request, Response, SipMessage};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn parse_sdp(body: &[u8]) -> Option<SessionDescription> {
    std::str::from_utf8(body)
        .ok()
        .and_then(|s| SessionDescription::parse(s).ok())
}

/// Index of the first active audio stream.
fn audio_index(sdp: &SessionDescription) -> usize {
    sdp.media
        .iter()
        .position(|m| m.port != 0 && m.media.eq_ignore_ascii_case("audio"))
        .unwrap_or(0)
}

impl Call {
    /// Our offer with the desired hold state (o= version bumped).
    fn offer_body(&mut self, codecs: &[crate::media::codec::G711]) -> Option<Vec<u8>> {
        let rtp = self.rtp?;
        self.sdp_version += 1;
        let mut o = sdp::offer(&local_media(
            rtp,
            codecs,
            self.desired_hold,
            self.session_id,
        ));
        o.set_origin("-", self.session_id, self.sdp_version, rtp.ip());
        Some(o.to_string().into_bytes())
    }

    /// Our answer to `offer` with the current hold state.
    fn answer_body(
        &mut self,
        offer: &SessionDescription,
        codecs: &[crate::media::codec::G711],
    ) -> Option<Vec<u8>> {
        let rtp = self.rtp?;
        let local = local_media(rtp, codecs, self.local_hold, self.session_id);
        let mut a = sdp::answer(offer, &local).ok()?;
        self.sdp_version += 1;
        a.set_origin("-", self.session_id, self.sdp_version, rtp.ip());
        Some(a.to_string().into_bytes())
    }
}

impl UserAgent {
    /// Calls `number` (`sip:number@domain` through the server), offering media at `rtp`.
    pub fn call(
        &mut self,
        now: Instant,
        number: &str,
        rtp: SocketAddr,
    ) -> Result<CallId, CallError> {
        let dialog = self.outgoing_dialog(number)?;
        let remote = Party {
            number: number.to_string(),
            display: None,
        };
        let id = self.new_call_id();
        let mut call = Call::new(true, CallState::Calling, dialog, remote);
        call.rtp = Some(rtp);
        self.calls.insert(id, call);
        if let Err(e) = self.send_invite(now, id) {
            self.remove_call(id);
            return Err(e);
        }
        self.emit_state(id, CallState::Calling);
        Ok(id)
    }

    /// Answers an incoming call with media at `rtp`.
    pub fn answer(&mut self, now: Instant, id: CallId, rtp: SocketAddr) -> Result<(), CallError> {
        let codecs = self.cfg.codecs.clone();
        let local = self.local.clone();
        let call = self.calls.get_mut(&id).ok_or(CallError::NoSuchCall(id))?;
        let Some((txn, req)) = call
            .server_invite
            .take()
            .filter(|_| call.state == CallState::Incoming)
        else {
            return Err(CallError::InvalidState {
                call: id,
                state: call.state.clone(),
                action: "answer",
            });
        };
        call.rtp = Some(rtp);
        let (body, params) = match call.remote_offer.clone() {
            Some(offer) => {
                let params = MediaParams::negotiate(&offer, &codecs, false).ok();
                (call.answer_body(&offer, &codecs), params)
            }
            None => {
                call.awaiting_ack_answer = true;
                (call.offer_body(&codecs), None)
            }
        };
        let Some(body) = body else {
            let _ = self
                .ep
                .respond(now, txn, refusal(&req, call, 488, "Not Acceptable Here"));
            self.end_call(id, EndReason::NoCommonMedia);
            return Ok(());
        };
        let mut r = Response::for_request(&req, 200, "OK");
        r.set_to_tag(&call.dialog.local_tag);
        r.headers.push("Contact", local.contact());
        r.headers.push("Allow", ALLOW);
        r.headers.push("Content-Type", "application/sdp");
        r.body = body;
        call.params = params;
        call.state = CallState::Connected;
        self.ep.respond(now, txn, r)?;
        self.owners.insert(txn, Owner::Answered(id));
        self.emit_state(id, CallState::Connected);
        if params.is_some() {
            self.events.push_back(UaEvent::Media { call: id, params });
        }
        Ok(())
    }

    /// Refuses an incoming call (486 Busy Here).
    pub fn reject(&mut self, now: Instant, id: CallId) -> Result<(), CallError> {
        let call = self.calls.get_mut(&id).ok_or(CallError::NoSuchCall(id))?;
        let Some((txn, req)) = call
            .server_invite
            .take()
            .filter(|_| call.state == CallState::Incoming)
        else {
            return Err(CallError::InvalidState {
                call: id,
                state: call.state.clone(),
                action: "reject",
            });
        };
        let _ = self
            .ep
            .respond(now, txn, refusal(&req, call, 486, "Busy Here"));
        self.end_call(id, EndReason::Rejected);
        Ok(())
    }

    /// Hangs up: CANCEL before the answer, BYE after, 486 for a call ringing here.
    pub fn hangup(&mut self, now: Instant, id: CallId) -> Result<(), CallError> {
        let call = self.calls.get_mut(&id).ok_or(CallError::NoSuchCall(id))?;
        match call.state {
            CallState::Ended(_) => Err(CallError::NoSuchCall(id)),
            CallState::Incoming => self.reject(now, id),
            CallState::Calling | CallState::Ringing => {
                if call.provisional_seen {
                    self.send_cancel(now, id);
                } else {
                    // RFC 3261 §9.1: no CANCEL before a provisional response.
                    call.cancel_wanted = true;
                }
                self.end_call(id, EndReason::LocalHangup);
                Ok(())
            }
            CallState::Connected => {
                self.send_bye(now, id, EndReason::LocalHangup);
                Ok(())
            }
        }
    }

    /// Puts a connected call on hold (re-INVITE with `sendonly`).
    pub fn hold(&mut self, now: Instant, id: CallId) -> Result<(), CallError> {
        self.set_hold(now, id, true)
    }

    /// Takes a call off hold (re-INVITE with `sendrecv`).
    pub fn resume(&mut self, now: Instant, id: CallId) -> Result<(), CallError> {
        self.set_hold(now, id, false)
    }

    fn set_hold(&mut self, now: Instant, id: CallId, hold: bool) -> Result<(), CallError> {
        let call = self.calls.get_mut(&id).ok_or(CallError::NoSuchCall(id))?;
        if call.state != CallState::Connected {
            return Err(CallError::InvalidState {
                call: id,
                state: call.state.clone(),
                action: if hold { "hold" } else { "resume" },
            });
        }
        call.desired_hold = hold;
        self.update_hold(now, id);
        Ok(())
    }

    /// Sends a re-INVITE if the desired hold state differs from the agreed one and no
    /// offer/answer exchange is under way (otherwise it is sent when that one ends).
    pub(crate) fn update_hold(&mut self, now: Instant, id: CallId) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let busy = call.invite.is_some() || call.awaiting_ack_answer || call.retry_at.is_some();
        if call.state == CallState::Connected && !busy && call.desired_hold != call.local_hold {
            if let Err(e) = self.send_invite(now, id) {
                tracing::warn!(%id, error = %e, "cannot send re-INVITE");
            }
        }
    }

    /// Sends an INVITE (initial, or re-INVITE on a connected call) with our offer.
    fn send_invite(&mut self, now: Instant, id: CallId) -> Result<(), CallError> {
        let codecs = self.cfg.codecs.clone();
        let local = self.local.clone();
        let peer = self.server_peer();
        let call = self.calls.get_mut(&id).ok_or(CallError::NoSuchCall(id))?;
        let reinvite = call.state == CallState::Connected;
        let hold = call.desired_hold;
        let body = call.offer_body(&codecs).unwrap_or_default();
        let mut req = call.dialog.request(Method::Invite, &local);
        req.headers.push("Content-Type", "application/sdp");
        req.body = body;
        let txn = self.ep.send_request(now, req.clone(), peer)?;
        call.invite = Some(PendingInvite {
            txn,
            request: req,
            auth_tries: 0,
            reinvite_hold: reinvite.then_some(hold),
        });
        self.owners.insert(txn, Owner::Invite(id));
        Ok(())
    }

    fn send_cancel(&mut self, now: Instant, id: CallId) {
        let Some(txn) = self
            .calls
            .get(&id)
            .and_then(|c| c.invite.as_ref())
            .map(|p| p.txn)
        else {
            return;
        };
        if let Some(cancel) = self.ep.cancel_request(txn) {
            if let Ok(t) = self.ep.send_request(now, cancel, self.server_peer()) {
                self.owners.insert(t, Owner::Other);
            }
        }
    }

    /// BYE on a confirmed dialog, and the call ends with `reason`.
    pub(crate) fn send_bye(&mut self, now: Instant, id: CallId, reason: EndReason) {
        let local = self.local.clone();
        let peer = self.server_peer();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let bye = call.dialog.request(Method::Bye, &local);
        call.invite = None;
        if let Ok(t) = self.ep.send_request(now, bye, peer) {
            self.owners.insert(t, Owner::Other);
        }
        if call.is_ended() {
            self.remove_call(id);
        } else {
            self.end_call(id, reason);
        }
    }

    pub(crate) fn remove_call(&mut self, id: CallId) {
        self.calls.remove(&id);
        self.owners
            .retain(|_, o| !matches!(o, Owner::Invite(c) | Owner::Answered(c) | Owner::Refer(c) if *c == id));
    }

    // ---- responses to our INVITEs ----

    pub(crate) fn on_invite_response(
        &mut self,
        now: Instant,
        txn: TxnId,
        id: CallId,
        resp: Response,
    ) {
        let peer = self.server_peer();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(pending) = call.invite.clone().filter(|p| p.txn == txn) else {
            // A retransmitted 2xx: our ACK got lost.
            if (200..300).contains(&resp.status) {
                if let Some((_, ack)) = call.last_ack.as_ref().filter(|(t, _)| *t == txn) {
                    self.ep
                        .send_stateless(peer, &SipMessage::Request(ack.clone()));
                }
            }
            return;
        };
        let reinvite = pending.reinvite_hold;
        match resp.status {
            100 => {}
            101..=199 => {
                if reinvite.is_none() {
                    self.on_provisional(now, id, &resp);
                }
            }
            200..=299 => {
                call.invite = None;
                self.acknowledge(txn, id, &resp);
                match reinvite {
                    None => self.on_answered(now, id, &resp),
                    Some(hold) => self.on_reinvite_accepted(now, id, hold, &resp),
                }
            }
            401 | 407 => {
                let retry = with_credentials(
                    &pending.request,
                    &resp,
                    &self.cfg.account,
                    pending.auth_tries,
                );
                let ended = call.is_ended();
                match retry.filter(|_| !ended) {
                    Some(req) => self.resend_with_credentials(now, id, pending, req),
                    None => {
                        call.invite = None;
                        match reinvite {
                            None if ended => self.remove_call(id),
                            None => self.end_call(id, EndReason::AuthFailed),
                            Some(_) => self.on_reinvite_refused(now, id, resp.status),
                        }
                    }
                }
            }
            status => {
                call.invite = None;
                match reinvite {
                    None if call.is_ended() => self.remove_call(id),
                    None => self.end_call(
                        id,
                        EndReason::Refused {
                            status,
                            reason: resp.reason.clone(),
                        },
                    ),
                    Some(_) => self.on_reinvite_refused(now, id, status),
                }
            }
        }
    }

    fn resend_with_credentials(
        &mut self,
        now: Instant,
        id: CallId,
        pending: PendingInvite,
        mut req: Request,
    ) {
        let peer = self.server_peer();
        let via = self.local.via();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.dialog.local_cseq += 1;
        req.headers
            .set("CSeq", format!("{} INVITE", call.dialog.local_cseq));
        req.headers.set("Via", via);
        match self.ep.send_request(now, req.clone(), peer) {
            Ok(t) => {
                call.invite = Some(PendingInvite {
                    txn: t,
                    request: req,
                    auth_tries: pending.auth_tries + 1,
                    reinvite_hold: pending.reinvite_hold,
                });
                self.owners.insert(t, Owner::Invite(id));
            }
            Err(_) => {
                call.invite = None;
                self.end_call(id, EndReason::Timeout);
            }
        }
    }

    fn on_provisional(&mut self, now: Instant, id: CallId, resp: &Response) {
        let codecs = self.cfg.codecs.clone();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.provisional_seen = true;
        if call.cancel_wanted {
            call.cancel_wanted = false;
            self.send_cancel(now, id);
            return;
        }
        if call.is_ended() {
            return;
        }
        if let Some(tag) = resp.to_tag() {
            call.dialog.remote_tag = Some(tag);
        }
        if call.state == CallState::Calling && resp.status != 100 {
            call.state = CallState::Ringing;
            self.emit_state(id, CallState::Ringing);
        }
        // Early media (183 with SDP): listen only until the answer.
        let early = parse_sdp(&resp.body)
            .and_then(|s| MediaParams::negotiate(&s, &codecs, false).ok())
            .map(|p| MediaParams { send: false, ..p });
        if let (Some(p), Some(call)) = (early, self.calls.get_mut(&id)) {
            if call.params != Some(p) {
                call.params = Some(p);
                self.events.push_back(UaEvent::Media {
                    call: id,
                    params: Some(p),
                });
            }
        }
    }

    /// ACKs a 2xx (and remembers the ACK for retransmitted 2xx).
    fn acknowledge(&mut self, txn: TxnId, id: CallId, resp: &Response) {
        let local = self.local.clone();
        let peer = self.server_peer();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.dialog.remote_tag.is_none() || call.state != CallState::Connected {
            // The 2xx fixes the dialog (RFC 3261 §12.1.2).
            call.dialog.remote_tag = resp.to_tag();
            let mut routes = resp.headers.get_all("Record-Route");
            routes.reverse();
            call.dialog.route_set = routes;
        }
        if let Some(c) = resp.contact() {
            call.dialog.remote_target = c.uri;
        }
        let ack = call.dialog.ack(resp.cseq().0, &local);
        self.ep
            .send_stateless(peer, &SipMessage::Request(ack.clone()));
        call.last_ack = Some((txn, ack));
    }

    fn on_answered(&mut self, now: Instant, id: CallId, resp: &Response) {
        let codecs = self.cfg.codecs.clone();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.is_ended() {
            // Hung up while the answer was on its way (CANCEL lost the race).
            self.send_bye(now, id, EndReason::LocalHangup);
            return;
        }
        let params =
            parse_sdp(&resp.body).and_then(|s| MediaParams::negotiate(&s, &codecs, false).ok());
        let Some(params) = params else {
            tracing::warn!(%id, "answer without usable media; hanging up");
            call.state = CallState::Connected;
            self.send_bye(now, id, EndReason::NoCommonMedia);
            return;
        };
        call.state = CallState::Connected;
        call.params = Some(params);
        self.emit_state(id, CallState::Connected);
        self.events.push_back(UaEvent::Media {
            call: id,
            params: Some(params),
        });
    }

    fn on_reinvite_accepted(&mut self, now: Instant, id: CallId, hold: bool, resp: &Response) {
        let codecs = self.cfg.codecs.clone();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.local_hold = hold;
        if let Some(p) =
            parse_sdp(&resp.body).and_then(|s| MediaParams::negotiate(&s, &codecs, hold).ok())
        {
            call.params = Some(p);
        } else if let Some(p) = call.params.as_mut() {
            p.send = !hold && !call.remote_hold && p.remote.is_some();
            p.recv = !hold;
        }
        let (params, remote) = (call.params, call.remote_hold);
        self.events.push_back(UaEvent::Media { call: id, params });
        self.events.push_back(UaEvent::Hold {
            call: id,
            local: hold,
            remote,
        });
        self.update_hold(now, id);
    }

    fn on_reinvite_refused(&mut self, now: Instant, id: CallId, status: u16) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        match status {
            491 => {
                // Glare (RFC 3261 §14.1): try again after a random 2.1–4 s.
                let wait = Duration::from_millis(2100 + u64::from(rand::random::<u16>() % 1900));
                call.retry_at = Some(now + wait);
            }
            408 => self.send_bye(now, id, EndReason::Timeout),
            481 => self.end_call(id, EndReason::RemoteHangup),
            _ => {
                tracing::warn!(%id, status, "re-INVITE refused; hold state unchanged");
                call.desired_hold = call.local_hold;
                let (local, remote) = (call.local_hold, call.remote_hold);
                self.events.push_back(UaEvent::Hold {
                    call: id,
                    local,
                    remote,
                });
            }
        }
    }

    pub(crate) fn on_invite_timeout(&mut self, now: Instant, txn: TxnId, id: CallId) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(pending) = call.invite.take().filter(|p| p.txn == txn) else {
            return;
        };
        match pending.reinvite_hold {
            Some(_) => self.send_bye(now, id, EndReason::Timeout),
            None if call.is_ended() => self.remove_call(id),
            None => self.end_call(id, EndReason::Timeout),
        }
    }

    // ---- requests from the other side ----

    pub(crate) fn on_incoming_invite(&mut self, now: Instant, txn: TxnId, req: Request) {
        let codecs = self.cfg.codecs.clone();
        let local = self.local.clone();
        let Some(dialog) = self.incoming_dialog(&req) else {
            let _ = self
                .ep
                .respond(now, txn, Response::for_request(&req, 400, "Bad Request"));
            return;
        };
        let offer = if req.body.is_empty() {
            None
        } else {
            match parse_sdp(&req.body) {
                Some(o) if MediaParams::negotiate(&o, &codecs, false).is_ok() => Some(o),
                _ => {
                    let mut r = Response::for_request(&req, 488, "Not Acceptable Here");
                    r.set_to_tag(&dialog.local_tag);
                    let _ = self.ep.respond(now, txn, r);
                    return;
                }
            }
        };
        let remote = req
            .from_hdr()
            .map(|f| Party::from_name_addr(&f))
            .unwrap_or(Party {
                number: String::new(),
                display: None,
            });
        let mut ringing = Response::for_request(&req, 180, "Ringing");
        ringing.set_to_tag(&dialog.local_tag);
        ringing.headers.push("Contact", local.contact());
        let id = self.new_call_id();
        let mut call = Call::new(false, CallState::Incoming, dialog, remote.clone());
        call.remote_offer = offer;
        call.server_invite = Some((txn, req));
        self.calls.insert(id, call);
        let _ = self.ep.respond(now, txn, ringing);
        self.events
            .push_back(UaEvent::IncomingCall { call: id, remote });
    }

    pub(crate) fn on_cancelled(&mut self, now: Instant, invite: TxnId) {
        let Some((id, req)) = self.calls.iter().find_map(|(id, c)| {
            c.server_invite
                .as_ref()
                .filter(|(t, _)| *t == invite)
                .map(|(_, r)| (*id, r.clone()))
        }) else {
            return;
        };
        if let Some(call) = self.calls.get_mut(&id) {
            call.server_invite = None;
            let _ = self
                .ep
                .respond(now, invite, refusal(&req, call, 487, "Request Terminated"));
        }
        self.end_call(id, EndReason::Cancelled);
    }

    pub(crate) fn on_in_dialog(
        &mut self,
        now: Instant,
        txn: Option<TxnId>,
        req: Request,
        _peer: Peer,
    ) {
        let Some(id) = self.call_of(&req) else {
            if let Some(t) = txn {
                let _ = self.ep.respond(
                    now,
                    t,
                    Response::for_request(&req, 481, "Call/Transaction Does Not Exist"),
                );
            }
            return;
        };
        let Some(txn) = txn else {
            if req.method == Method::Ack {
                self.on_ack(id, &req);
            }
            return;
        };
        let cseq = req.cseq().0;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.dialog.remote_cseq.is_some_and(|r| cseq < r) {
            let _ = self.ep.respond(
                now,
                txn,
                Response::for_request(&req, 500, "CSeq Out of Order"),
            );
            return;
        }
        call.dialog.remote_cseq = Some(cseq);
        match req.method {
            Method::Bye => {
                let _ = self
                    .ep
                    .respond(now, txn, Response::for_request(&req, 200, "OK"));
                call.invite = None;
                // A PBX that carries out our REFER itself may end our leg before (or
                // instead of) its final NOTIFY: the transfer went through.
                if call.refer.take().is_some() {
                    self.events.push_back(UaEvent::Transfer {
                        call: id,
                        state: super::transfer::TransferState::Succeeded,
                    });
                    self.end_call(id, EndReason::Transferred);
                } else {
                    self.end_call(id, EndReason::RemoteHangup);
                }
            }
            Method::Invite => self.on_reinvite(now, id, txn, req),
            Method::Notify if super::transfer::is_refer_notify(&req) => {
                let _ = self
                    .ep
                    .respond(now, txn, Response::for_request(&req, 200, "OK"));
                self.on_refer_notify(now, id, &req);
            }
            Method::Options | Method::Info | Method::Notify => {
                let _ = self
                    .ep
                    .respond(now, txn, Response::for_request(&req, 200, "OK"));
            }
            _ => {
                let mut r = Response::for_request(&req, 405, "Method Not Allowed");
                r.headers.push("Allow", ALLOW);
                let _ = self.ep.respond(now, txn, r);
            }
        }
    }

    fn on_ack(&mut self, id: CallId, ack: &Request) {
        let codecs = self.cfg.codecs.clone();
        self.owners.retain(|_, o| *o != Owner::Answered(id));
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if !call.awaiting_ack_answer {
            return;
        }
        call.awaiting_ack_answer = false;
        let answer = parse_sdp(&ack.body);
        let params = answer
            .as_ref()
            .and_then(|s| MediaParams::negotiate(s, &codecs, call.local_hold).ok());
        if let Some(s) = &answer {
            call.remote_hold = s.is_hold(audio_index(s));
        }
        call.params = params;
        let remote = call.remote_hold;
        let local = call.local_hold;
        self.events.push_back(UaEvent::Media { call: id, params });
        self.events.push_back(UaEvent::Hold {
            call: id,
            local,
            remote,
        });
    }

    fn on_reinvite(&mut self, now: Instant, id: CallId, txn: TxnId, req: Request) {
        let codecs = self.cfg.codecs.clone();
        let local = self.local.clone();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.state != CallState::Connected || call.invite.is_some() || call.awaiting_ack_answer {
            let _ = self.ep.respond(
                now,
                txn,
                Response::for_request(&req, 491, "Request Pending"),
            );
            return;
        }
        if let Some(c) = req.contact() {
            call.dialog.remote_target = c.uri;
        }
        let mut ok = Response::for_request(&req, 200, "OK");
        ok.headers.push("Contact", local.contact());
        ok.headers.push("Allow", ALLOW);
        ok.headers.push("Content-Type", "application/sdp");
        if req.body.is_empty() {
            // An offerless re-INVITE: our offer in the 2xx, the answer in the ACK.
            ok.body = call.offer_body(&codecs).unwrap_or_default();
            call.awaiting_ack_answer = true;
        } else {
            let offer = parse_sdp(&req.body);
            let negotiated = offer.as_ref().and_then(|o| {
                let p = MediaParams::negotiate(o, &codecs, call.local_hold).ok()?;
                Some((o.clone(), p))
            });
            let Some((offer, params)) = negotiated else {
                let _ = self.ep.respond(
                    now,
                    txn,
                    Response::for_request(&req, 488, "Not Acceptable Here"),
                );
                return;
            };
            let Some(body) = call.answer_body(&offer, &codecs) else {
                let _ = self.ep.respond(
                    now,
                    txn,
                    Response::for_request(&req, 488, "Not Acceptable Here"),
                );
                return;
            };
            ok.body = body;
            let was_held = call.remote_hold;
            call.remote_hold = offer.is_hold(audio_index(&offer));
            call.params = Some(params);
            self.events.push_back(UaEvent::Media {
                call: id,
                params: Some(params),
            });
            if was_held != call.remote_hold {
                self.events.push_back(UaEvent::Hold {
                    call: id,
                    local: call.local_hold,
                    remote: call.remote_hold,
                });
            }
        }
        if self.ep.respond(now, txn, ok).is_ok() {
            self.owners.insert(txn, Owner::Answered(id));
        }
    }
}

/// A final error response to an incoming INVITE, with our tag.
fn refusal(req: &Request, call: &Call, status: u16, reason: &str) -> Response {
    let mut r = Response::for_request(req, status, reason);
    r.set_to_tag(&call.dialog.local_tag);
    r
}
