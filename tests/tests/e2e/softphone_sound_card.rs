//! A softphone on a sound card (cti-core's `CpalDevice`, ALSA) calling a softphone with a
//! test tone through the real PBX. No sound card here: ALSA's `file` plugin over its `null`
//! PCM writes what the phone plays to a file and reads what it captures from one (the same
//! technique as cti-core's `media::sound_card_tests`; the `null` PCM is not paced, so the
//! played file holds our frames between runs of silence, taken out before the check).

use centralino_e2e::softphone::{connect, heard, played, registered, share, softphone, SECOND};
use centralino_e2e::Pbx;
use cti_core::media::device::TestDevice;
use cti_core::media::sound_card::CpalDevice;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Writes the ALSA configuration once per test process and points ALSA at it: the phone's
/// microphone `e2e_mic` reads a 2 kHz tone, its speaker `e2e_speaker` writes `speaker.raw`.
fn alsa_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("centralino-e2e-alsa-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("test directory");
        let mut tone = media_core::ToneGenerator::new(2000.0, 8000);
        let raw: Vec<u8> = tone
            .frame(10 * SECOND)
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        std::fs::write(dir.join("mic.raw"), raw).expect("tone file");
        let d = dir.display();
        let conf = format!(
            "</usr/share/alsa/alsa.conf>\n\
             pcm.e2e_mic {{\n  type file\n  slave.pcm null\n  file \"{d}/mic.copy\"\n  infile \"{d}/mic.raw\"\n  format raw\n}}\n\
             pcm.e2e_speaker {{\n  type file\n  slave.pcm null\n  file \"{d}/speaker.raw\"\n  format raw\n}}\n"
        );
        let path = dir.join("asoundrc");
        std::fs::write(&path, conf).expect("ALSA configuration");
        std::env::set_var("ALSA_CONFIG_PATH", &path);
        dir
    })
}

/// What ALSA wrote for the speaker, without the runs of silence the unpaced PCM played
/// between the phone's frames.
fn speaker(dir: &Path) -> Vec<i16> {
    let bytes = std::fs::read(dir.join("speaker.raw")).unwrap_or_default();
    let mut out = Vec::new();
    let mut zeros = 0usize;
    for s in bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
    {
        if s == 0 {
            zeros += 1;
            continue;
        }
        if zeros > 0 && zeros < 8 {
            out.extend(std::iter::repeat_n(0, zeros));
        }
        zeros = 0;
        out.push(s);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn softphone_on_an_alsa_sound_card_hears_and_is_heard() {
    let dir = alsa_dir();
    let pbx = Pbx::start();
    let settings = dir.join("audio.json");
    let card = CpalDevice::new(Some(settings.clone()));
    card.select_input(Some("e2e_mic")).unwrap();
    card.select_output(Some("e2e_speaker")).unwrap();
    let card = Arc::new(card);
    let tone = Arc::new(TestDevice::tone(1000.0));
    let (a, ev_a) = softphone(&pbx, "201", card.clone(), |_| {}).await;
    let (b, ev_b) = softphone(&pbx, "202", tone.clone(), |_| {}).await;
    registered(&a).await;
    registered(&b).await;
    pbx.wait_for("two locations", Duration::from_secs(10), |p| {
        p.locations().len() == 2
    });

    let (ca, cb) = connect(&a, &ev_a, "202", &b, &ev_b, &[]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stats = card.call_stats(ca).expect("the call is on the sound card");
    assert_eq!(
        (stats.input.as_str(), stats.output.as_str()),
        ("e2e_mic", "e2e_speaker")
    );
    let at_b = heard(&tone, cb, played(&tone, cb).saturating_sub(SECOND));
    a.hangup(ca).await.unwrap();
    // The streams close when the call's media task ends.
    for _ in 0..50 {
        if card.call_stats(ca).is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        card.call_stats(ca).is_none(),
        "sound card released after the call"
    );
    let at_a = speaker(dir);
    let _ = std::fs::remove_file(dir.join("speaker.raw"));
    let _ = std::fs::remove_file(dir.join("mic.copy"));
    // The PBX relays B's 1 kHz to the card's speaker, and the card's 2 kHz microphone to B.
    assert!(
        at_a.len() >= SECOND / 2,
        "speaker got {} samples",
        at_a.len()
    );
    let (sa, sb) = (share(&at_a, 1000.0), share(&at_b, 2000.0));
    assert!(
        sa > 0.9,
        "1 kHz in {sa} of the frames the sound card played"
    );
    assert!(
        sb > 0.9,
        "2 kHz in {sb} of the frames B heard from the sound card"
    );
    assert_eq!(
        std::fs::read_to_string(&settings)
            .ok()
            .map(|s| s.contains("e2e_speaker")),
        Some(true),
        "the choice is remembered"
    );
}
