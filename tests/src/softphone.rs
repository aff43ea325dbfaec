//! Support for end-to-end tests of the cti-core softphone: start one against a running
//! PBX, record its events, wait for them, and judge the audio it played.

use crate::Pbx;
use cti_core::media::device::{tone_share, AudioDevice, TestDevice};
use cti_core::phone::{Account, CallId, CallState, Phone, PhoneConfig, PhoneEvent, PhoneListener};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

static NEXT_BLOCK: AtomicU16 = AtomicU16::new(0);

/// Every event a phone reported, in order.
#[derive(Default)]
pub struct Events(Mutex<Vec<PhoneEvent>>);

impl PhoneListener for Events {
    fn on_event(&self, event: &PhoneEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

impl Events {
    /// A copy of the events so far.
    pub fn all(&self) -> Vec<PhoneEvent> {
        self.0.lock().unwrap().clone()
    }

    /// The first event (from index 0) for which `f` returns something, waiting up to
    /// `limit`.
    pub async fn wait<T>(
        &self,
        what: &str,
        limit: Duration,
        f: impl Fn(&PhoneEvent) -> Option<T>,
    ) -> T {
        let start = Instant::now();
        loop {
            if let Some(t) = self.all().iter().find_map(&f) {
                return t;
            }
            assert!(
                start.elapsed() < limit,
                "timed out waiting for {what}; events: {:#?}",
                self.all()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for the next incoming call not in `seen`.
    pub async fn incoming(&self, seen: &[CallId]) -> CallId {
        self.wait("an incoming call", Duration::from_secs(10), |e| match e {
            PhoneEvent::IncomingCall { call, .. } if !seen.contains(call) => Some(*call),
            _ => None,
        })
        .await
    }

    /// Waits until `call` reaches `state`.
    pub async fn state(&self, call: CallId, state: CallState) {
        let what = format!("{call} {state:?}");
        self.wait(&what, Duration::from_secs(10), |e| match e {
            PhoneEvent::CallState { call: c, state: s } if *c == call && *s == state => Some(()),
            _ => None,
        })
        .await
    }

    /// The DTMF digits received on `call`, in order.
    pub fn digits(&self, call: CallId) -> String {
        self.all()
            .iter()
            .filter_map(|e| match e {
                PhoneEvent::Dtmf { call: c, digit } if *c == call => Some(*digit),
                _ => None,
            })
            .collect()
    }
}

/// A softphone for `user` (password `demo<user>`) of the demo data, on loopback, with an
/// audio device (a `TestDevice`, or a `CpalDevice` on ALSA test PCMs); not registered yet.
pub async fn softphone<D: AudioDevice + 'static>(
    pbx: &Pbx,
    user: &str,
    device: Arc<D>,
    tune: impl FnOnce(&mut PhoneConfig),
) -> (Phone, Arc<Events>) {
    let events = Arc::new(Events::default());
    let mut cfg = PhoneConfig::new(
        Account::new(user, &format!("demo{user}"), &pbx.sip.to_string()),
        pbx.sip,
    );
    cfg.bind_ip = Some(pbx.sip.ip());
    // A block of 100 ports per phone below the ephemeral range, so the phones never take
    // a port another test picked with `free_udp_port` and has not bound yet.
    let block = 10_000 + (NEXT_BLOCK.fetch_add(1, Ordering::Relaxed) % 100) * 100;
    cfg.sip_ports = Some((block, block + 9));
    cfg.rtp_ports = Some((block + 10, block + 99));
    tune(&mut cfg);
    let dev: Arc<dyn AudioDevice> = device;
    let phone = Phone::start(cfg, dev, events.clone()).await.unwrap();
    (phone, events)
}

/// The audio `call` played on `device` from sample `from` on (8 kHz).
pub fn heard(device: &TestDevice, call: CallId, from: usize) -> Vec<i16> {
    device
        .recording(call)
        .map(|r| r.since(from))
        .unwrap_or_default()
}

/// Samples played so far by `call` on `device`.
pub fn played(device: &TestDevice, call: CallId) -> usize {
    device.recording(call).map(|r| r.len()).unwrap_or(0)
}

/// Share of the 20 ms frames of `samples` dominated by `freq` (against the other test
/// tones).
pub fn share(samples: &[i16], freq: f32) -> f64 {
    let others: Vec<f32> = [440.0, 1000.0, 2000.0]
        .into_iter()
        .filter(|f| *f != freq)
        .collect();
    tone_share(samples, freq, &others)
}

/// Largest absolute sample.
pub fn peak(samples: &[i16]) -> i32 {
    samples
        .iter()
        .map(|s| i32::from(*s).abs())
        .max()
        .unwrap_or(0)
}

/// One second of audio at the phones' 8 kHz.
pub const SECOND: usize = 8000;

/// Registers `phone` and waits (up to 10 s) for the registrar's answer.
pub async fn registered(phone: &Phone) {
    phone.register().await.unwrap();
    assert!(
        phone.wait_registered(Duration::from_secs(10)).await,
        "{:?}",
        phone.registration()
    );
}

/// `caller` calls `number`; `callee` answers. Returns both sides' call ids once both are
/// connected.
pub async fn connect(
    caller: &Phone,
    caller_ev: &Events,
    number: &str,
    callee: &Phone,
    callee_ev: &Events,
    seen: &[CallId],
) -> (CallId, CallId) {
    let out = caller.call(number).await.unwrap();
    let inc = callee_ev.incoming(seen).await;
    caller_ev.state(out, CallState::Ringing).await;
    callee.answer(inc).await.unwrap();
    caller_ev.state(out, CallState::Connected).await;
    callee_ev.state(inc, CallState::Connected).await;
    (out, inc)
}
