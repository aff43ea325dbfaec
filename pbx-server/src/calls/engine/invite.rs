//! New INVITEs from the phones: authentication, account checks, the call record, then the
//! first ringing step.

use super::super::cdr::{self, cause, status};
use super::super::dialog::{without_tag, Dialog};
use super::super::legs::{Call, Media, Phase, Upstream};
use super::super::Now;
use super::Engine;
use crate::directory::{Directory, Extension};
use crate::guard::{Guard, Verdict};
use media_core::relay::LegSide;
use sip_core::msg::SipUri;
use sip_core::transaction::{random_token, Endpoint, TxnId};
use sip_core::{MessageExt, Peer, Request, Response};

impl Engine {
    /// A new INVITE (no To tag) from `peer`.
    #[allow(clippy::too_many_arguments)]
    pub fn on_invite(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        guard: &mut Guard,
        now: Now,
        txn: TxnId,
        req: Request,
        peer: Peer,
    ) {
        let verdict = guard.check(
            now.mono,
            (now.wall_ms / 1000) as u64,
            peer.addr.ip(),
            &req,
            true,
            |u| dir.secret(u),
        );
        let username = match verdict {
            Verdict::Ok(u) => u,
            Verdict::Challenge(resp) => {
                let _ = ep.respond(now.mono, txn, resp);
                return;
            }
        };
        let reject = |ep: &mut Endpoint, status: u16, reason: &str| {
            let mut r = Response::for_request(&req, status, reason);
            r.set_to_tag(&random_token(10));
            let _ = ep.respond(now.mono, txn, r);
        };
        let Some(account) = dir.account_by_username(&username) else {
            return reject(ep, 403, "Forbidden");
        };
        if !account.enabled {
            return reject(ep, 403, "Account Disabled");
        }
        if let Some(net) = account.acl {
            if !net.contains(&peer.addr.ip()) {
                guard.fail(
                    now.mono,
                    peer.addr.ip(),
                    &username,
                    "source outside the account ACL",
                );
                return reject(ep, 403, "Forbidden");
            }
        }
        if account.registration_check {
            let registered = dir
                .location(account.id)
                .and_then(Directory::location_addr)
                .is_some_and(|a| a == peer.addr);
            if !registered {
                guard.fail(
                    now.mono,
                    peer.addr.ip(),
                    &username,
                    "INVITE not from the registered address",
                );
                return reject(ep, 403, "Not From Registered Address");
            }
        }
        let Some(caller) = dir.extension(&account.extension) else {
            return reject(ep, 403, "Account Has No Extension");
        };
        let called = SipUri::parse(&req.uri)
            .ok()
            .and_then(|u| u.user)
            .unwrap_or_default();
        let (Some(from), Some(to)) = (req.from_hdr(), req.to_hdr()) else {
            return reject(ep, 400, "Bad From/To");
        };
        let Some(contact) = req.contact() else {
            return reject(ep, 400, "Missing Contact");
        };

        let unique_id = self.next_unique_id(now);
        let record = cdr::open(
            unique_id,
            &self.tenant,
            now.wall_ms,
            cdr::Origin {
                caller: caller.number.clone(),
                caller_name: Some(caller.name.clone()).filter(|n| !n.is_empty()),
                peer_name: username.clone(),
                ip_port: peer.addr.to_string(),
            },
            &called,
        );
        let a = Dialog {
            call_id: req.call_id().to_string(),
            local_tag: Dialog::new_tag(),
            remote_tag: from.tag().unwrap_or_default().to_string(),
            local_uri: without_tag(to),
            remote_uri: without_tag(from),
            remote_target: contact.uri.clone(),
            peer,
            local_cseq: 0,
            contact_user: called.clone(),
        };
        let offer = (!req.body.is_empty()).then(|| req.body.clone());
        let id = self.insert_call(a, Upstream::Invite(txn), Some(req), caller, record);
        if let Some(c) = self.calls.get_mut(&id) {
            c.media_a.received = offer;
        }
        self.a_invites.insert(txn, id);

        let caller_load = self.load.get(&caller.number).copied().unwrap_or(0);
        if caller.call_limit > 0 && caller_load >= caller.call_limit {
            self.fail_call(
                ep,
                now,
                id,
                status::FAILED,
                cause::FAILED,
                403,
                "Call Limit Reached",
            );
            return;
        }
        self.add_load(id, &caller.number);
        self.persist(id);
        self.ring(ep, dir, now, id, &called);
    }

    /// Adds a call with side A as given; returns its id.
    pub(super) fn insert_call(
        &mut self,
        a: Dialog,
        upstream: Upstream,
        a_invite: Option<Request>,
        caller: &Extension,
        cdr: crate::store::CdrRecord,
    ) -> u64 {
        let id = self.next_call;
        self.next_call += 1;
        let phase = if upstream == Upstream::NotYet {
            Phase::Originating
        } else {
            Phase::Routing
        };
        if upstream != Upstream::NotYet {
            self.by_a_callid.insert(a.call_id.clone(), id);
        }
        let media = Media {
            received: None,
            sent: None,
            version: 1,
        };
        self.calls.insert(
            id,
            Call {
                id,
                phase,
                a,
                upstream,
                a_invite,
                a_ack: None,
                caller_ext: caller.number.clone(),
                caller_name: caller.name.clone(),
                a_relay: LegSide::A,
                media_a: media.clone(),
                media_b: media,
                legs: Vec::new(),
                winner: None,
                relay: None,
                cdr,
                ring_deadline: None,
                ringing_ext: None,
                load: Vec::new(),
                hops: 0,
                early_media: false,
                held_by: None,
                pbx_held: None,
                reinvite: None,
                dial_target: None,
                queue: None,
                queue_row: None,
                hangup_at: None,
                group: None,
                parked: None,
            },
        );
        id
    }
}
