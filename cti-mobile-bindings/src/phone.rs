//! The softphone through uniffi: a `SoftPhone` object over `cti_core::phone::Phone`.
//! Audio: the app's device comes with the platform audio issue; today the phone plays a
//! generated tone or silence and records what it hears, which is what the tests need.

use crate::{runtime, CtiError};
use cti_core::media::device::{tone_share, TestDevice};
use cti_core::phone::{Account, CallId, CallState, Phone, PhoneConfig, PhoneEvent, PhoneListener};
use std::sync::Arc;
use std::time::Duration;

/// Receives the phone's events on a phone thread; keep the work short.
#[uniffi::export(with_foreign)]
pub trait SoftPhoneListener: Send + Sync {
    /// Registered (true) or not.
    fn on_registration(&self, registered: bool);
    /// A call arrives (answer or reject it).
    fn on_incoming(&self, call: u64, number: String);
    /// A call changed: `calling`, `ringing`, `incoming`, `connected` or `ended`.
    fn on_call_state(&self, call: u64, state: String);
    /// A DTMF digit arrived.
    fn on_dtmf(&self, call: u64, digit: String);
}

struct Forward(Arc<dyn SoftPhoneListener>);

impl PhoneListener for Forward {
    fn on_event(&self, event: &PhoneEvent) {
        match event {
            PhoneEvent::Registration(r) => self.0.on_registration(matches!(
                r,
                cti_core::phone::RegistrationState::Registered { .. }
            )),
            PhoneEvent::IncomingCall { call, remote } => {
                self.0.on_incoming(call.0, remote.number.clone())
            }
            PhoneEvent::CallState { call, state } => {
                let s = match state {
                    CallState::Calling => "calling",
                    CallState::Ringing => "ringing",
                    CallState::Incoming => "incoming",
                    CallState::Connected => "connected",
                    CallState::Ended(_) => "ended",
                };
                self.0.on_call_state(call.0, s.to_string())
            }
            PhoneEvent::Dtmf { call, digit } => self.0.on_dtmf(call.0, digit.to_string()),
            _ => {}
        }
    }
}

fn phone_err(e: cti_core::phone::PhoneError) -> CtiError {
    CtiError::Invalid(e.to_string())
}

/// A softphone registered to the PBX.
#[derive(uniffi::Object)]
pub struct SoftPhone {
    phone: Phone,
    audio: Arc<TestDevice>,
}

#[uniffi::export(async_runtime = "tokio")]
impl SoftPhone {
    /// Starts a phone for `user` at the PBX's SIP `server` (`ip:port`, UDP) that sends a tone
    /// of `tone_hz` (0: silence) on every call, and registers it.
    #[uniffi::constructor]
    pub async fn start(
        server: String,
        user: String,
        password: String,
        tone_hz: f32,
        listener: Arc<dyn SoftPhoneListener>,
    ) -> Result<Arc<SoftPhone>, CtiError> {
        let rt = runtime().ok_or_else(|| CtiError::Invalid("no runtime".into()))?;
        let addr: std::net::SocketAddr = server
            .parse()
            .map_err(|_| CtiError::Invalid(format!("server: expected ip:port, got {server:?}")))?;
        let audio = Arc::new(if tone_hz > 0.0 {
            TestDevice::tone(tone_hz)
        } else {
            TestDevice::silence()
        });
        let account = Account {
            user: user.clone(),
            password,
            domain: addr.ip().to_string(),
            display_name: None,
            auth_user: None,
        };
        let config = PhoneConfig::new(account, addr);
        let device = audio.clone();
        let phone = rt
            .spawn(async move { Phone::start(config, device, Arc::new(Forward(listener))).await })
            .await
            .map_err(|e| CtiError::Invalid(e.to_string()))?
            .map_err(phone_err)?;
        phone.register().await.map_err(phone_err)?;
        Ok(Arc::new(SoftPhone { phone, audio }))
    }

    /// Waits until registered, at most `timeout_ms`.
    pub async fn wait_registered(&self, timeout_ms: u64) -> bool {
        self.phone
            .wait_registered(Duration::from_millis(timeout_ms))
            .await
    }

    /// Calls `number`; returns the call handle.
    pub async fn call(&self, number: String) -> Result<u64, CtiError> {
        self.phone
            .call(&number)
            .await
            .map(|c| c.0)
            .map_err(phone_err)
    }

    /// Answers an incoming call.
    pub async fn answer(&self, call: u64) -> Result<(), CtiError> {
        self.phone.answer(CallId(call)).await.map_err(phone_err)
    }

    /// Ends a call.
    pub async fn hangup(&self, call: u64) -> Result<(), CtiError> {
        self.phone.hangup(CallId(call)).await.map_err(phone_err)
    }

    /// Sends RFC 4733 digits.
    pub async fn send_dtmf(&self, call: u64, digits: String) -> Result<(), CtiError> {
        self.phone
            .send_dtmf(CallId(call), &digits)
            .await
            .map_err(phone_err)
    }

    /// Share (0–1) of the 20 ms frames heard on `call` in which `freq_hz` dominates over
    /// `others` (Goertzel): how tests check audio without ears.
    pub fn heard_tone_share(&self, call: u64, freq_hz: f32, others: Vec<f32>) -> f64 {
        self.audio
            .recording(CallId(call))
            .map(|r| tone_share(&r.samples(), freq_hz, &others))
            .unwrap_or(0.0)
    }

    /// Stops the phone (unregisters first).
    pub async fn stop(&self) {
        let _ = self.phone.unregister().await;
        self.phone.stop().await;
    }
}
