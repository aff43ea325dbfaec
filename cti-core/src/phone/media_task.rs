//! The media task of one call: owns the call's RTP socket and [`RtpSession`], ticks the
//! 20 ms media clock (microphone frame out, speaker frame in), and answers the SIP
//! driver's commands (new negotiation, DTMF, mute, figures).

use super::driver::{PhoneEvent, PhoneListener};
use super::CallId;
use crate::media::codec::{FRAME, FRAME_SAMPLES};
use crate::media::device::AudioStreams;
use crate::media::jitter::JitterConfig;
use crate::media::netem::{Impairment, Netem};
use crate::media::params::MediaParams;
use crate::media::session::{MediaError, MediaEvent, MediaStats, RtpSession};
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};

/// Largest datagram read from the RTP socket.
const MAX_DATAGRAM: usize = 2048;

/// What the SIP driver tells a media task.
#[derive(Debug)]
pub(crate) enum MediaCmd {
    Params(Option<MediaParams>),
    Dtmf(String, oneshot::Sender<Result<(), MediaError>>),
    Mute(bool),
    Stats(oneshot::Sender<MediaStats>),
}

pub(crate) struct MediaTask {
    pub call: CallId,
    pub socket: UdpSocket,
    pub streams: AudioStreams,
    pub listener: Arc<dyn PhoneListener>,
    pub jitter: JitterConfig,
    pub impairment: Option<Impairment>,
}

impl MediaTask {
    /// Runs until the command channel closes (the call ended).
    pub(crate) async fn run(self, mut rx: mpsc::Receiver<MediaCmd>) {
        let MediaTask {
            call,
            socket,
            mut streams,
            listener,
            jitter,
            impairment,
        } = self;
        let mut session = RtpSession::new(rand::random(), rand::random(), rand::random(), jitter);
        let mut netem = impairment.map(Netem::new);
        let mut tick = tokio::time::interval(FRAME);
        // A late tick is caught up at once: the RTP clock must keep pace with real time.
        tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let mut mic = [0i16; FRAME_SAMPLES];
        let mut speaker = [0i16; FRAME_SAMPLES];
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let far_future = Instant::now() + std::time::Duration::from_secs(86400 * 365);
        loop {
            let release = netem
                .as_ref()
                .and_then(Netem::poll_timeout)
                .map_or(far_future, Instant::from_std);
            tokio::select! {
                _ = tick.tick() => {
                    let now = Instant::now().into_std();
                    streams.source.read_frame(&mut mic);
                    session.send_audio(now, &mic);
                    session.playout(now, &mut speaker);
                    streams.sink.write_frame(&speaker);
                }
                r = socket.recv_from(&mut buf) => {
                    if let Ok((n, from)) = r {
                        let now = Instant::now().into_std();
                        let data = &buf[..n];
                        match netem.as_mut() {
                            Some(net) => net.push(now, from, data.to_vec()),
                            None => session.receive(now, from, data),
                        }
                    }
                }
                _ = tokio::time::sleep_until(release) => {
                    let now = Instant::now().into_std();
                    if let Some(net) = netem.as_mut() {
                        while let Some((at, from, data)) = net.pop_due(now) {
                            session.receive(at, from, &data);
                        }
                    }
                }
                cmd = rx.recv() => match cmd {
                    None => break,
                    Some(MediaCmd::Params(p)) => session.set_params(p),
                    Some(MediaCmd::Dtmf(digits, reply)) => {
                        let _ = reply.send(session.queue_dtmf(&digits));
                    }
                    Some(MediaCmd::Mute(m)) => session.set_muted(m),
                    Some(MediaCmd::Stats(reply)) => {
                        let _ = reply.send(session.stats());
                    }
                },
            }
            while let Some(t) = session.poll_transmit() {
                if let Err(e) = socket.send_to(&t.data, t.to).await {
                    tracing::debug!(%call, error = %e, "RTP send failed");
                }
            }
            while let Some(MediaEvent::Dtmf(digit)) = session.poll_event() {
                listener.on_event(&PhoneEvent::Dtmf { call, digit });
            }
        }
        let s = session.stats();
        tracing::debug!(%call, sent = s.sent, received = s.received, jitter = ?s.jitter, "media stopped");
    }
}
