//! Interop: the cti-core softphone and baresip (an independent user agent, Debian package)
//! call each other through the PBX, in G.711 and in Opus (baresip with only its opus
//! module, so Opus is the one codec both have). Audio is judged by tone detection on both
//! sides: baresip's 1 kHz sine in what the softphone plays, and the softphone's 2 kHz in
//! what baresip decoded (its `sndfile` module dumps each call's decoded audio to a WAV).

use centralino_e2e::softphone::{heard, played, share, softphone};
use centralino_e2e::{free_media_port, free_udp_port, Pbx};
use cti_core::media::codec::Encoding;
use cti_core::media::device::TestDevice;
use cti_core::phone::{CallState, EndReason, PhoneEvent};
use media_core::tone::tone_ratio;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

struct Baresip {
    child: Child,
    ctrl: TcpStream,
    dir: PathBuf,
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Baresip {
    /// baresip as `user` (auto-answering), sending a 1 kHz sine, dumping decoded audio,
    /// with the audio codec module `codec` (`g711.so`, `opus.so`).
    fn start(pbx: &Pbx, user: &str, dir: &Path, codec: &str) -> Baresip {
        let media = free_media_port();
        let ctrl_port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dumps = dir.join("dumps");
        std::fs::create_dir_all(&dumps).unwrap();
        std::fs::write(
            dir.join("config"),
            format!(
                "poll_method epoll\nsip_listen 127.0.0.1:{sip}\nnet_interface 127.0.0.1\n\
audio_player aubridge,sink\naudio_source ausine,1000\nausrc_srate 48000\nausrc_channels 2\nauplay_srate 48000\naudio_alert aubridge,alert\n\
rtp_ports {media}-{m2}\nmodule_path /usr/lib/baresip/modules\nmodule {codec}\nmodule ausine.so\n\
module aubridge.so\nmodule sndfile.so\nsnd_path {dumps}\nmodule ctrl_tcp.so\nmodule_app account.so\n\
module_app menu.so\nctrl_tcp_listen 127.0.0.1:{ctrl_port}\n",
                sip = free_udp_port(),
                m2 = media + 3,
                dumps = dumps.display(),
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("accounts"),
            format!(
                "<sip:{user}@{};transport=udp>;auth_pass=demo{user};answermode=auto;regint=600\n",
                pbx.sip
            ),
        )
        .unwrap();
        let child = Command::new("baresip")
            .arg("-f")
            .arg(dir)
            // The sound-card test points this process's ALSA at file PCMs that run unpaced;
            // baresip must not inherit that.
            .env_remove("ALSA_CONFIG_PATH")
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                std::fs::File::create(dir.join("baresip.log")).unwrap(),
            ))
            .stderr(Stdio::null())
            .spawn()
            .expect("baresip is installed");
        let mut ctrl = None;
        for _ in 0..150 {
            if let Ok(s) = TcpStream::connect(("127.0.0.1", ctrl_port)) {
                ctrl = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Baresip {
            child,
            ctrl: ctrl.expect("baresip control socket"),
            dir: dir.to_path_buf(),
        }
    }

    fn command(&mut self, command: &str, params: &str) {
        let json = format!(r#"{{"command":"{command}","params":"{params}","token":"t"}}"#);
        self.ctrl
            .write_all(format!("{}:{},", json.len(), json).as_bytes())
            .unwrap();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("baresip.log")).unwrap_or_default()
    }

    /// Decoded (received) audio dumps, as (sample rate, channels, samples of channel 0).
    fn decoded(&self) -> Vec<(u32, u16, Vec<i16>)> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.dir.join("dumps")).unwrap() {
            let p = e.unwrap().path();
            if p.to_string_lossy().ends_with("-dec.wav") {
                out.push(read_pcm_wav(&std::fs::read(&p).unwrap()));
            }
        }
        out
    }
}

/// A 16-bit PCM WAV of any channel count: the first channel's samples (the dumps may be
/// stereo at 48 kHz, which media-core's mono reader refuses).
fn read_pcm_wav(b: &[u8]) -> (u32, u16, Vec<i16>) {
    assert_eq!(&b[..4], b"RIFF");
    let mut i = 12;
    let (mut rate, mut channels) = (0, 1);
    while i + 8 <= b.len() {
        let id = &b[i..i + 4];
        let len = u32::from_le_bytes(b[i + 4..i + 8].try_into().unwrap()) as usize;
        let body = &b[i + 8..(i + 8 + len).min(b.len())];
        if id == b"fmt " {
            channels = u16::from_le_bytes([body[2], body[3]]);
            rate = u32::from_le_bytes(body[4..8].try_into().unwrap());
        } else if id == b"data" {
            let samples = body
                .chunks_exact(2 * channels as usize)
                .map(|f| i16::from_le_bytes([f[0], f[1]]))
                .collect();
            return (rate, channels, samples);
        }
        i += 8 + len + (len & 1);
    }
    (rate, channels, Vec::new())
}

/// Share of 20 ms blocks of `samples` (at `rate`) whose energy is mostly at `freq`.
fn tone_blocks(samples: &[i16], rate: u32, freq: f32) -> f64 {
    let n = (rate / 50) as usize;
    let blocks: Vec<&[i16]> = samples
        .chunks_exact(n.max(1))
        .filter(|c| c.iter().any(|s| s.unsigned_abs() > 64))
        .collect();
    let hits = blocks
        .iter()
        .filter(|c| tone_ratio(c, freq, rate) > 0.5)
        .count();
    hits as f64 / blocks.len().max(1) as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_softphone_and_baresip_call_each_other_with_audio_both_ways() {
    let pbx = Pbx::start();
    let dir = tempfile::tempdir().unwrap();
    let mut bs = Baresip::start(&pbx, "203", dir.path(), "g711.so");
    let dev = Arc::new(TestDevice::tone(2000.0));
    let (phone, ev) = softphone(&pbx, "201", dev.clone(), |_| {}).await;
    phone.register().await.unwrap();
    assert!(phone.wait_registered(Duration::from_secs(10)).await);
    pbx.wait_for("baresip registered", Duration::from_secs(15), |p| {
        p.locations().len() == 2
    });

    // The softphone calls baresip, which answers by itself.
    let out = phone.call("203").await.unwrap();
    let mut connected = None;
    for _ in 0..150 {
        connected = ev.all().iter().find_map(|e| match e {
            PhoneEvent::CallState { call, state } if *call == out => match state {
                CallState::Connected => Some(Ok(())),
                CallState::Ended(r) => Some(Err(r.clone())),
                _ => None,
            },
            _ => None,
        });
        if connected.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(connected, Some(Ok(())), "baresip answers\n{}", bs.log());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let at_phone = heard(&dev, out, played(&dev, out).saturating_sub(16000));
    let law = phone
        .call_info(out)
        .await
        .and_then(|i| i.media)
        .map(|m| m.codec.law);
    assert!(
        share(&at_phone, 1000.0) > 0.9,
        "the softphone hears baresip's 1 kHz ({:?}): {}\n{}",
        law,
        share(&at_phone, 1000.0),
        bs.log()
    );
    phone.hangup(out).await.unwrap();
    ev.state(out, CallState::Ended(EndReason::LocalHangup))
        .await;
    // baresip writes its dump when the call closes.
    let mut dumps = Vec::new();
    for _ in 0..50 {
        dumps = bs.decoded();
        if dumps.iter().any(|(_, _, s)| s.len() > 8000) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (rate, channels, samples) = dumps
        .iter()
        .max_by_key(|d| d.2.len())
        .cloned()
        .unwrap_or_else(|| panic!("no decoded dump from baresip\n{}", bs.log()));
    let got = tone_blocks(&samples, rate, 2000.0);
    eprintln!(
        "baresip decoded {:.1} s ({rate} Hz, {channels} ch, {law:?}); 2 kHz in {:.0}% of its audible 20 ms blocks",
        samples.len() as f64 / f64::from(rate),
        100.0 * got
    );
    assert!(got > 0.9, "baresip hears the softphone's 2 kHz: {got}");

    // baresip calls the softphone.
    bs.command("dial", &format!("sip:201@{}", pbx.sip));
    let inc = ev.incoming(&[]).await;
    phone.answer(inc).await.unwrap();
    ev.state(inc, CallState::Connected).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let at_phone = heard(&dev, inc, played(&dev, inc).saturating_sub(8000));
    assert!(
        share(&at_phone, 1000.0) > 0.9,
        "incoming from baresip: {}",
        share(&at_phone, 1000.0)
    );
    phone.hangup(inc).await.unwrap();
    let cdrs = pbx.closed_cdrs(2);
    assert!(cdrs.iter().all(|r| r["status"] == "OK"), "{cdrs:#?}");
    phone.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_softphone_and_baresip_talk_opus_through_the_pbx() {
    let pbx = Pbx::start();
    let dir = tempfile::tempdir().unwrap();
    let mut bs = Baresip::start(&pbx, "203", dir.path(), "opus.so");
    let dev = Arc::new(TestDevice::tone(2000.0));
    let (phone, ev) = softphone(&pbx, "201", dev.clone(), |_| {}).await;
    phone.register().await.unwrap();
    assert!(phone.wait_registered(Duration::from_secs(10)).await);
    pbx.wait_for("baresip registered", Duration::from_secs(15), |p| {
        p.locations().len() == 2
    });

    // The softphone offers PCMU, PCMA and opus; baresip has only opus and answers with it.
    let out = phone.call("203").await.unwrap();
    let mut connected = None;
    for _ in 0..150 {
        connected = ev.all().iter().find_map(|e| match e {
            PhoneEvent::CallState { call, state } if *call == out => match state {
                CallState::Connected => Some(Ok(())),
                CallState::Ended(r) => Some(Err(r.clone())),
                _ => None,
            },
            _ => None,
        });
        if connected.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(connected, Some(Ok(())), "baresip answers\n{}", bs.log());
    let codec = phone
        .call_info(out)
        .await
        .and_then(|i| i.media)
        .map(|m| m.codec);
    assert_eq!(
        codec.map(|c| c.law),
        Some(Encoding::Opus),
        "{codec:?}\n{}",
        bs.log()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let at_phone = heard(&dev, out, played(&dev, out).saturating_sub(16000));
    let got = share(&at_phone, 1000.0);
    let stats = phone.media_stats(out).await.unwrap();
    eprintln!(
        "opus from baresip: 1 kHz in {:.0}% of the softphone's 20 ms frames; {} packets in, \
         jitter buffer mean added latency {:?}",
        100.0 * got,
        stats.received,
        stats.jitter.mean_latency()
    );
    assert!(
        got > 0.9,
        "the softphone hears baresip's 1 kHz over Opus: {got}\n{}",
        bs.log()
    );
    phone.hangup(out).await.unwrap();
    ev.state(out, CallState::Ended(EndReason::LocalHangup))
        .await;
    let mut dumps = Vec::new();
    for _ in 0..50 {
        dumps = bs.decoded();
        if dumps.iter().any(|(_, _, s)| s.len() > 8000) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (rate, channels, samples) = dumps
        .iter()
        .max_by_key(|d| d.2.len())
        .cloned()
        .unwrap_or_else(|| panic!("no decoded dump from baresip\n{}", bs.log()));
    let got = tone_blocks(&samples, rate, 2000.0);
    eprintln!(
        "baresip decoded {:.1} s of Opus ({rate} Hz, {channels} ch); 2 kHz in {:.0}% of its audible 20 ms blocks",
        samples.len() as f64 / f64::from(rate),
        100.0 * got
    );
    assert!(
        got > 0.9,
        "baresip hears the softphone's 2 kHz over Opus: {got}"
    );

    // baresip calls the softphone: its Opus offer (rewritten by the PBX) is accepted.
    bs.command("dial", &format!("sip:201@{}", pbx.sip));
    let inc = ev.incoming(&[]).await;
    phone.answer(inc).await.unwrap();
    ev.state(inc, CallState::Connected).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let law = phone
        .call_info(inc)
        .await
        .and_then(|i| i.media)
        .map(|m| m.codec.law);
    assert_eq!(law, Some(Encoding::Opus));
    let at_phone = heard(&dev, inc, played(&dev, inc).saturating_sub(8000));
    assert!(
        share(&at_phone, 1000.0) > 0.9,
        "incoming Opus from baresip: {}",
        share(&at_phone, 1000.0)
    );
    phone.hangup(inc).await.unwrap();
    let cdrs = pbx.closed_cdrs(2);
    assert!(cdrs.iter().all(|r| r["status"] == "OK"), "{cdrs:#?}");
    phone.stop().await;
}
