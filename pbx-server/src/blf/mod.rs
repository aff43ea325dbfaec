//! BLF: subscriptions to the dialog event package (RFC 6665 SUBSCRIBE/NOTIFY, RFC 4235
//! `application/dialog-info+xml`) for extensions, so desk phones light their busy-lamp keys.
//!
//! Sans-IO: the core hands it SUBSCRIBE requests, lamp changes, NOTIFY responses and time;
//! it answers with [`Output`]s (responses to send, NOTIFYs to start) that [`Blf::drive`] feeds
//! into the transaction endpoint. The feed is the lamp model's [`LampChange`]s — the very
//! changes the CTI server reads — so a BLF key and a CTI lamp cannot disagree.
//!
//! One NOTIFY per subscription is in flight at a time; changes meanwhile are folded into
//! the next one, which carries the state as it is then (every document is full state, so
//! nothing is lost but intermediate states shorter than a round trip). See `docs/blf.md`.

mod body;
#[cfg(test)]
mod tests;

use crate::calls::dialog::{without_tag, Dialog, Local};
use crate::calls::Now;
use crate::directory::Directory;
use crate::guard::{Guard, Verdict};
use crate::lamps::{LampChange, LampModel};
use body::Shown;
use sip_core::msg::SipUri;
use sip_core::transaction::{Endpoint, TxnId};
use sip_core::{MessageExt, Method, Peer, Request, Response};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The one event package served.
pub const PACKAGE: &str = "dialog";
/// Its body type.
pub const CONTENT_TYPE: &str = "application/dialog-info+xml";
/// Longest subscription granted (and the default when the SUBSCRIBE names none).
pub const MAX_EXPIRES: u32 = 3600;
/// Shortest subscription accepted (`423` below): a phone refreshing faster only adds load.
pub const MIN_EXPIRES: u32 = 60;
/// What a refused subscriber is told to wait (`Retry-After` of the `503`).
const RETRY_AFTER_S: u32 = 300;

/// Bounds on memory: subscriptions per account (a 100-key sidecar fits) and in total.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Subscriptions one SIP account may hold.
    pub per_account: usize,
    /// Subscriptions the server holds.
    pub total: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            per_account: 200,
            total: 20_000,
        }
    }
}

/// Handle of one subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubId(u64);

/// What the core must do.
#[derive(Debug)]
pub enum Output {
    /// Answer a SUBSCRIBE.
    Respond {
        /// Its server transaction.
        txn: TxnId,
        /// The response.
        response: Response,
    },
    /// Start a NOTIFY; report its transaction with [`Blf::sent`].
    Notify {
        /// The subscription.
        sub: SubId,
        /// The request.
        request: Request,
        /// Where it goes.
        peer: Peer,
    },
}

/// Why a subscription ends (the `Subscription-State` of its last NOTIFY).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The subscriber sent `Expires: 0`.
    Unsubscribed,
    /// Not refreshed in time, or a fetch (`Expires: 0` on the first SUBSCRIBE).
    Timeout,
}

impl End {
    fn header(self) -> &'static str {
        match self {
            End::Unsubscribed => "terminated",
            End::Timeout => "terminated;reason=timeout",
        }
    }
}

/// One subscription (a dialog of its own, RFC 6665 §4.1.2).
#[derive(Debug)]
struct Subscription {
    /// SIP username of the subscriber (for the per-account limit).
    account: String,
    /// The extension watched.
    extension: String,
    /// Host part of the subscriber's Request-URI, reused in the documents' URIs.
    host: String,
    /// Event header value of our NOTIFYs (`dialog`, with the subscriber's `id`).
    event: String,
    dialog: Dialog,
    /// CSeq of the subscriber's last SUBSCRIBE.
    remote_cseq: u32,
    expires_at: Instant,
    /// Version of the next document (RFC 4235 §4.1.1: from 0, +1 per document).
    version: u32,
    /// Set once it is ending: no more lamp NOTIFYs, the next one is the last.
    end: Option<End>,
    /// A NOTIFY is queued or in flight.
    busy: bool,
    /// Another NOTIFY is wanted once the busy one is answered.
    pending: bool,
    /// The terminating NOTIFY went out: drop the subscription on its answer.
    final_sent: bool,
}

/// Every BLF subscription of the tenant.
#[derive(Debug)]
pub struct Blf {
    local: Local,
    tenant: String,
    limits: Limits,
    next_id: u64,
    subs: HashMap<SubId, Subscription>,
    /// `(Call-ID, our tag)` → subscription.
    by_dialog: HashMap<(String, String), SubId>,
    /// Active subscriptions per watched extension.
    watchers: HashMap<String, BTreeSet<SubId>>,
    per_account: HashMap<String, usize>,
    /// Expiry of every active subscription.
    timers: BTreeSet<(Instant, SubId)>,
    /// NOTIFY transactions in flight.
    txns: HashMap<TxnId, SubId>,
    /// What each watched extension shows (bounded by the directory).
    lines: HashMap<String, Option<Shown>>,
    outputs: VecDeque<Output>,
    /// Numbers besides extensions that may be watched (the park slots).
    objects: BTreeSet<String>,
}

impl Blf {
    /// No subscriptions yet.
    pub fn new(local: Local, tenant: &str, limits: Limits) -> Blf {
        Blf {
            local,
            tenant: tenant.to_string(),
            limits,
            next_id: 0,
            subs: HashMap::new(),
            by_dialog: HashMap::new(),
            watchers: HashMap::new(),
            per_account: HashMap::new(),
            timers: BTreeSet::new(),
            txns: HashMap::new(),
            lines: HashMap::new(),
            outputs: VecDeque::new(),
            objects: BTreeSet::new(),
        }
    }

    /// Sets the numbers besides extensions that have a lamp (the park slots, seed §29).
    pub fn set_objects(&mut self, objects: impl IntoIterator<Item = String>) {
        self.objects = objects.into_iter().collect();
    }

    /// Subscriptions held (ending ones included).
    pub fn len(&self) -> usize {
        self.subs.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }

    /// True if `req` is a SUBSCRIBE inside one of our subscription dialogs (a refresh or an
    /// unsubscribe); other in-dialog SUBSCRIBEs get the core's 481.
    pub fn owns_dialog(&self, req: &Request) -> bool {
        req.method == Method::Subscribe
            && req.to_tag().is_some_and(|tag| {
                self.by_dialog
                    .contains_key(&(req.call_id().to_string(), tag))
            })
    }

    /// True if `txn` is one of our NOTIFYs.
    pub fn owns(&self, txn: TxnId) -> bool {
        self.txns.contains_key(&txn)
    }

    /// The next expiry.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// The next thing to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Does what is queued: responses and NOTIFYs into the endpoint.
    pub fn drive(&mut self, ep: &mut Endpoint, now: Instant) {
        while let Some(out) = self.outputs.pop_front() {
            match out {
                Output::Respond { txn, response } => {
                    let _ = ep.respond(now, txn, response);
                }
                Output::Notify { sub, request, peer } => {
                    match ep.send_request(now, request, peer) {
                        Ok(txn) => self.sent(sub, txn),
                        Err(e) => {
                            tracing::warn!(error = %e, "blf: NOTIFY not sent; subscription dropped");
                            self.remove(sub);
                        }
                    }
                }
            }
        }
    }

    /// The NOTIFY queued for `sub` went out on `txn`.
    pub fn sent(&mut self, sub: SubId, txn: TxnId) {
        if self.subs.contains_key(&sub) {
            self.txns.insert(txn, sub);
        }
    }

    /// A response to one of our NOTIFYs. A failure ends the subscription (RFC 6665 §4.2.2:
    /// a 481 means the subscriber forgot it).
    pub fn on_response(&mut self, now: Instant, txn: TxnId, status: u16) {
        if status < 200 {
            return;
        }
        let Some(id) = self.txns.remove(&txn) else {
            return;
        };
        if status >= 300 {
            tracing::info!(status, "blf: NOTIFY refused; subscription removed");
            self.remove(id);
            return;
        }
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        sub.busy = false;
        if sub.final_sent {
            self.remove(id);
        } else if sub.pending {
            sub.pending = false;
            self.want(now, id);
        }
    }

    /// One of our NOTIFYs got no answer: the subscriber is gone.
    pub fn on_timeout(&mut self, txn: TxnId) {
        if let Some(id) = self.txns.remove(&txn) {
            tracing::info!("blf: NOTIFY timed out; subscription removed");
            self.remove(id);
        }
    }

    /// Ends the subscriptions that were not refreshed in time.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.remove(&(at, id));
            self.terminate(now, id, End::Timeout);
        }
    }

    /// A lamp changed: every subscriber of that extension is told, if what its key shows
    /// changed (idle and unavailable show the same).
    pub fn on_lamp(&mut self, now: Instant, change: &LampChange, dir: &Directory) {
        if change.tenant != self.tenant {
            return;
        }
        let Some(line) = self.lines.get_mut(&change.extension) else {
            return;
        };
        let shown = Shown::from_lamp(change, dir);
        if *line == shown {
            return;
        }
        *line = shown;
        let ids: Vec<SubId> = self
            .watchers
            .get(&change.extension)
            .map(|w| w.iter().copied().collect())
            .unwrap_or_default();
        for id in ids {
            self.want(now, id);
        }
    }

    /// A SUBSCRIBE: a new subscription (authenticated like an INVITE), a refresh or an
    /// unsubscribe (in-dialog, see [`Blf::owns_dialog`]).
    #[allow(clippy::too_many_arguments)]
    pub fn on_subscribe(
        &mut self,
        now: Now,
        txn: TxnId,
        req: &Request,
        peer: Peer,
        dir: &Directory,
        guard: &mut Guard,
        lamps: &LampModel,
    ) {
        let _span = tracing::debug_span!("blf").entered();
        let Some(event) = event_of(req) else {
            let mut r = self.response(req, 489, "Bad Event");
            r.headers.push("Allow-Events", PACKAGE);
            return self.respond(txn, r);
        };
        if req.to_tag().is_some() {
            return self.refresh(now, txn, req, peer, event, dir, lamps);
        }
        let verdict = guard.check(
            now.mono,
            u64::try_from(now.wall_ms / 1000).unwrap_or(0),
            peer.addr.ip(),
            req,
            true,
            |u| dir.secret(u),
        );
        let username = match verdict {
            Verdict::Ok(u) => u,
            Verdict::Challenge(resp) => return self.respond(txn, resp),
        };
        let Some(account) = dir.account_by_username(&username).filter(|a| a.enabled) else {
            return self.reply(txn, req, 403, "Forbidden");
        };
        if account
            .acl
            .is_some_and(|net| !net.contains(&peer.addr.ip()))
        {
            guard.fail(
                now.mono,
                peer.addr.ip(),
                &username,
                "source outside the account ACL",
            );
            return self.reply(txn, req, 403, "Forbidden");
        }
        let uri = SipUri::parse(&req.uri).ok();
        let extension = uri
            .as_ref()
            .and_then(|u| u.user.clone())
            .unwrap_or_default();
        if dir.extension(&extension).is_none() && !self.objects.contains(&extension) {
            return self.reply(txn, req, 404, "Not Found");
        }
        if !accepts_dialog_info(req) {
            let mut r = self.response(req, 406, "Not Acceptable");
            r.headers.push("Accept", CONTENT_TYPE);
            return self.respond(txn, r);
        }
        let (Some(from), Some(to), Some(contact)) = (req.from_hdr(), req.to_hdr(), req.contact())
        else {
            return self.reply(txn, req, 400, "Missing From, To or Contact");
        };
        let Some(remote_tag) = from.tag().map(str::to_string) else {
            return self.reply(txn, req, 400, "Missing From Tag");
        };
        let expires = match self.expires(txn, req) {
            Some(e) => e,
            None => return,
        };
        let held = self.per_account.get(&username).copied().unwrap_or(0);
        if held >= self.limits.per_account || self.subs.len() >= self.limits.total {
            tracing::warn!(account = %username, held, "blf: subscription limit reached");
            let mut r = self.response(req, 503, "Too Many Subscriptions");
            r.headers.push("Retry-After", RETRY_AFTER_S.to_string());
            return self.respond(txn, r);
        }

        self.next_id += 1;
        let id = SubId(self.next_id);
        let dialog = Dialog {
            call_id: req.call_id().to_string(),
            local_tag: Dialog::new_tag(),
            remote_tag,
            local_uri: without_tag(to),
            remote_uri: without_tag(from),
            remote_target: contact.uri.clone(),
            peer,
            local_cseq: 0,
            contact_user: extension.clone(),
        };
        let host = uri
            .map(|u| SipUri::new(None, &u.host, u.port).to_string())
            .and_then(|s| s.strip_prefix("sip:").map(str::to_string))
            .unwrap_or_else(|| self.local.hostport());
        let mut ok = self.response(req, 200, "OK");
        ok.set_to_tag(&dialog.local_tag);
        ok.headers
            .push("Contact", self.local.contact(&extension, peer));
        ok.headers.push("Expires", expires.to_string());
        self.respond(txn, ok);
        tracing::info!(account = %username, extension = %extension, expires, "blf: subscribed");
        self.by_dialog
            .insert((dialog.call_id.clone(), dialog.local_tag.clone()), id);
        *self.per_account.entry(username.clone()).or_insert(0) += 1;
        self.load_line(&extension, dir, lamps);
        let expires_at = now.mono + Duration::from_secs(u64::from(expires));
        self.subs.insert(
            id,
            Subscription {
                account: username,
                extension: extension.clone(),
                host,
                event,
                dialog,
                remote_cseq: req.cseq().0,
                expires_at,
                version: 0,
                end: None,
                busy: false,
                pending: false,
                final_sent: false,
            },
        );
        if expires == 0 {
            // A fetch: the current state once, then the end.
            self.terminate(now.mono, id, End::Timeout);
        } else {
            self.timers.insert((expires_at, id));
            self.watchers.entry(extension).or_default().insert(id);
            self.want(now.mono, id);
        }
    }

    /// An in-dialog SUBSCRIBE: refresh (new expiry, current state) or unsubscribe.
    #[allow(clippy::too_many_arguments)]
    fn refresh(
        &mut self,
        now: Now,
        txn: TxnId,
        req: &Request,
        peer: Peer,
        event: String,
        dir: &Directory,
        lamps: &LampModel,
    ) {
        let key = (req.call_id().to_string(), req.to_tag().unwrap_or_default());
        let id = self.by_dialog.get(&key).copied();
        let Some((id, sub)) = id.and_then(|id| self.subs.get(&id).map(|s| (id, s))) else {
            return self.reply(txn, req, 481, "Subscription Does Not Exist");
        };
        if sub.end.is_some() || req.from_tag().as_deref() != Some(sub.dialog.remote_tag.as_str()) {
            return self.reply(txn, req, 481, "Subscription Does Not Exist");
        }
        let cseq = req.cseq().0;
        if cseq <= sub.remote_cseq {
            return self.reply(txn, req, 500, "CSeq Out Of Order");
        }
        if event != sub.event {
            let mut r = self.response(req, 489, "Bad Event");
            r.headers.push("Allow-Events", PACKAGE);
            return self.respond(txn, r);
        }
        let extension = sub.extension.clone();
        let old_expiry = sub.expires_at;
        let Some(expires) = self.expires(txn, req) else {
            return;
        };
        let expires_at = now.mono + Duration::from_secs(u64::from(expires));
        let mut ok = self.response(req, 200, "OK");
        ok.set_to_tag(&key.1);
        ok.headers
            .push("Contact", self.local.contact(&extension, peer));
        ok.headers.push("Expires", expires.to_string());
        self.respond(txn, ok);
        if let Some(sub) = self.subs.get_mut(&id) {
            sub.remote_cseq = cseq;
            sub.dialog.peer = peer;
            if let Some(c) = req.contact() {
                sub.dialog.remote_target = c.uri;
            }
            sub.expires_at = expires_at;
        }
        self.timers.remove(&(old_expiry, id));
        self.load_line(&extension, dir, lamps);
        if expires == 0 {
            tracing::info!(extension = %extension, "blf: unsubscribed");
            self.terminate(now.mono, id, End::Unsubscribed);
        } else {
            self.timers.insert((expires_at, id));
            self.want(now.mono, id);
        }
    }

    /// The granted expiry, or `None` after answering 400/423.
    fn expires(&mut self, txn: TxnId, req: &Request) -> Option<u32> {
        let asked = match req.headers.get("Expires").map(str::trim) {
            None => MAX_EXPIRES,
            Some(v) => match v.parse::<u64>() {
                Ok(n) => u32::try_from(n.min(u64::from(MAX_EXPIRES))).unwrap_or(MAX_EXPIRES),
                Err(_) => {
                    self.reply(txn, req, 400, "Bad Expires");
                    return None;
                }
            },
        };
        if asked != 0 && asked < MIN_EXPIRES {
            let mut r = self.response(req, 423, "Interval Too Brief");
            r.headers.push("Min-Expires", MIN_EXPIRES.to_string());
            self.respond(txn, r);
            return None;
        }
        Some(asked)
    }

    /// Refreshes what `extension` shows from the lamp model (the source of truth).
    fn load_line(&mut self, extension: &str, dir: &Directory, lamps: &LampModel) {
        let change = lamps.current(&self.tenant, extension);
        self.lines
            .insert(extension.to_string(), Shown::from_lamp(&change, dir));
    }

    /// Stops lamp NOTIFYs to `id` and queues its last one.
    fn terminate(&mut self, now: Instant, id: SubId, end: End) {
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        if sub.end.is_some() {
            return;
        }
        sub.end = Some(end);
        let (extension, at) = (sub.extension.clone(), sub.expires_at);
        self.timers.remove(&(at, id));
        self.unwatch(&extension, id);
        self.want(now, id);
    }

    /// Sends the current state to `id` now, or after the NOTIFY in flight.
    fn want(&mut self, now: Instant, id: SubId) {
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        if sub.final_sent {
            return;
        }
        if sub.busy {
            sub.pending = true;
            return;
        }
        let shown = self.lines.get(&sub.extension).and_then(Option::as_ref);
        let document = body::dialog_info(sub.version, &sub.extension, &sub.host, shown);
        sub.version = sub.version.wrapping_add(1);
        let state = match sub.end {
            Some(end) => end.header().to_string(),
            None => {
                let left = sub.expires_at.saturating_duration_since(now);
                // Round up: a subscriber told 0 s too early would refresh too late.
                let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                format!("active;expires={secs}")
            }
        };
        let mut request = sub.dialog.request(Method::Notify, &self.local);
        request.headers.push(
            "Contact",
            self.local
                .contact(&sub.dialog.contact_user, sub.dialog.peer),
        );
        request.headers.push("Event", sub.event.clone());
        request.headers.push("Subscription-State", state);
        request.headers.push("Content-Type", CONTENT_TYPE);
        request.body = document.into_bytes();
        sub.busy = true;
        sub.final_sent = sub.end.is_some();
        let peer = sub.dialog.peer;
        self.outputs.push_back(Output::Notify {
            sub: id,
            request,
            peer,
        });
    }

    fn unwatch(&mut self, extension: &str, id: SubId) {
        if let Some(w) = self.watchers.get_mut(extension) {
            w.remove(&id);
            if w.is_empty() {
                self.watchers.remove(extension);
            }
        }
    }

    fn remove(&mut self, id: SubId) {
        let Some(sub) = self.subs.remove(&id) else {
            return;
        };
        self.by_dialog
            .remove(&(sub.dialog.call_id.clone(), sub.dialog.local_tag.clone()));
        self.timers.remove(&(sub.expires_at, id));
        self.unwatch(&sub.extension, id);
        self.txns.retain(|_, s| *s != id);
        if let Some(n) = self.per_account.get_mut(&sub.account) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_account.remove(&sub.account);
            }
        }
    }

    fn response(&self, req: &Request, status: u16, reason: &str) -> Response {
        let mut r = Response::for_request(req, status, reason);
        r.headers.push("Server", crate::USER_AGENT);
        r
    }

    fn reply(&mut self, txn: TxnId, req: &Request, status: u16, reason: &str) {
        let mut r = self.response(req, status, reason);
        r.set_to_tag(&sip_core::transaction::random_token(10));
        self.respond(txn, r);
    }

    fn respond(&mut self, txn: TxnId, response: Response) {
        self.outputs.push_back(Output::Respond { txn, response });
    }
}

/// The Event header value to echo when it names our package (with its `id`, RFC 6665
/// §8.2.1), or `None` for another package or none.
fn event_of(req: &Request) -> Option<String> {
    let value = req.headers.get("Event")?;
    let mut parts = value.split(';');
    let package = parts.next().unwrap_or_default().trim();
    if !package.eq_ignore_ascii_case(PACKAGE) {
        return None;
    }
    let id = parts.find_map(|p| {
        let (name, v) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("id")
            .then(|| v.trim().to_string())
    });
    Some(match id {
        Some(id) => format!("{PACKAGE};id={id}"),
        None => PACKAGE.to_string(),
    })
}

/// No Accept header means our type (RFC 4235 §3.1); otherwise it must be listed.
fn accepts_dialog_info(req: &Request) -> bool {
    let types = req.headers.get_all("Accept");
    let types: Vec<String> = types
        .iter()
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|t| !t.is_empty())
        .collect();
    types.is_empty()
        || types
            .iter()
            .any(|t| t == CONTENT_TYPE || t == "application/*" || t == "*/*")
}
