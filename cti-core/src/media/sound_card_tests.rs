//! [`CpalDevice`] on ALSA without a sound card: ALSA's own `file` plugin over its `null`
//! PCM. Playback is written to a file, capture is read from a file. The `null` PCM is not
//! paced by a clock (it is always ready), so cpal's threads run as fast as they can: the
//! played files hold our audio between runs of silence (underruns), and capture keeps the
//! newest samples of a ring that overruns all the time. The checks therefore look at the
//! frequencies, not at the timing.
//!
//! The ALSA configuration is one file per test process (`ALSA_CONFIG_PATH`, set once before
//! ALSA reads its configuration): the system's `alsa.conf` first, then our PCMs, and a
//! `default` that is an `asym` of two of them (no card here, so the system's `default`
//! would not open).

use super::codec::FRAME_SAMPLES;
use super::device::{tone_share, AudioDevice, AudioError};
use super::settings::AudioSettings;
use super::sound_card::{CardFormat, CpalDevice, SoundCardError};
use crate::phone::CallId;
use cpal::SampleFormat;
use media_core::ToneGenerator;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// The test PCMs: (name, played file, file read by capture).
const PCMS: &[(&str, &str, Option<&str>)] = &[
    ("ct_in", "ct_in.copy", Some("tone2k_8k.raw")),
    ("ct_in_b", "ct_in_b.copy", Some("tone1k_8k.raw")),
    ("ct_in48", "ct_in48.copy", Some("tone2k_48k.raw")),
    ("ct_out", "ct_out.raw", None),
    ("ct_out48", "ct_out48.raw", None),
    ("ct_sw_a", "ct_sw_a.raw", None),
    ("ct_sw_b", "ct_sw_b.raw", None),
    ("ct_def_in", "ct_def_in.copy", Some("tone2k_8k.raw")),
    ("ct_def_out", "ct_def_out.raw", None),
    ("ct_keep", "ct_keep.raw", None),
    ("ct_f32_in_file", "ct_f32_in.copy", Some("tone2k_8k.raw")),
    ("ct_f32_out_file", "ct_f32_out.raw", None),
];

fn raw_tone(freq: f32, rate: u32, secs: u32) -> Vec<u8> {
    let mut g = ToneGenerator::with_sample_rate(freq, 8000, rate);
    g.frame((rate * secs) as usize)
        .iter()
        .flat_map(|s| s.to_le_bytes())
        .collect()
}

/// Writes the configuration and the capture files once; the directory holding them.
fn alsa_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("centralino-alsa-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("test directory");
        std::fs::write(dir.join("tone2k_8k.raw"), raw_tone(2000.0, 8000, 10)).expect("tone file");
        std::fs::write(dir.join("tone1k_8k.raw"), raw_tone(1000.0, 8000, 10)).expect("tone file");
        std::fs::write(dir.join("tone2k_48k.raw"), raw_tone(2000.0, 48000, 10)).expect("tone file");
        let mut conf = String::from("</usr/share/alsa/alsa.conf>\n");
        for (name, file, infile) in PCMS {
            conf += &format!(
                "pcm.{name} {{\n  type file\n  slave.pcm null\n  file \"{}\"\n  format raw\n",
                dir.join(file).display()
            );
            if let Some(i) = infile {
                conf += &format!("  infile \"{}\"\n", dir.join(i).display());
            }
            conf += "  hint.description \"Centralino test PCM\"\n}\n";
        }
        // Float-only PCMs (the `lfloat` plugin converts to the 16-bit file PCMs): the card
        // offers no i16, the callbacks run in f32.
        for (name, slave) in [("ct_f32_in", "ct_f32_in_file"), ("ct_f32_out", "ct_f32_out_file")] {
            conf += &format!(
                "pcm.{name} {{\n  type lfloat\n  slave {{ pcm \"{slave}\"\n format S16_LE }}\n  hint.description \"Centralino test PCM\"\n}}\n"
            );
        }
        conf += "pcm.!default {\n  type asym\n  playback.pcm \"ct_def_out\"\n  capture.pcm \"ct_def_in\"\n}\n";
        let path = dir.join("asoundrc");
        std::fs::write(&path, conf).expect("ALSA configuration");
        std::env::set_var("ALSA_CONFIG_PATH", &path);
        dir
    })
}

/// One test at a time: the unpaced streams each take a core while they run.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The samples ALSA wrote to `file`, with the runs of silence the unpaced card played
/// between our frames taken out (a 500 Hz–2 kHz tone never has 8 zeros in a row).
fn played(file: &str) -> Vec<i16> {
    let bytes = std::fs::read(alsa_dir().join(file)).unwrap_or_default();
    let samples: Vec<i16> = bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let mut out = Vec::new();
    let mut zeros = 0usize;
    for s in samples {
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

fn remove(file: &str) {
    let _ = std::fs::remove_file(alsa_dir().join(file));
}

fn tick() {
    std::thread::sleep(Duration::from_millis(20));
}

const OTHERS: [f32; 4] = [500.0, 1000.0, 1500.0, 2000.0];

fn others(but: f32) -> Vec<f32> {
    OTHERS.iter().copied().filter(|f| *f != but).collect()
}

#[test]
fn plays_and_captures_tones_through_alsa_files() {
    alsa_dir();
    let _serial = serial();
    let dev = CpalDevice::new(None);
    dev.select_input(Some("ct_in")).unwrap();
    dev.select_output(Some("ct_out")).unwrap();
    let mut streams = dev.open(CallId(1)).unwrap();
    let stats = dev.call_stats(CallId(1)).unwrap();
    assert_eq!(
        (stats.input.as_str(), stats.output.as_str()),
        ("ct_in", "ct_out")
    );
    let mut tone = ToneGenerator::new(1000.0, 8000);
    let mut frame = [0i16; FRAME_SAMPLES];
    let mut captured = Vec::new();
    for i in 0..25 {
        streams.sink.write_frame(&tone.frame(FRAME_SAMPLES));
        streams.source.read_frame(&mut frame);
        if i >= 5 {
            captured.extend_from_slice(&frame);
        }
        tick();
    }
    let stats = dev.call_stats(CallId(1)).unwrap();
    drop(streams);
    assert!(
        dev.call_stats(CallId(1)).is_none(),
        "closed with its streams"
    );
    let out = played("ct_out.raw");
    eprintln!(
        "FIG raw bytes {:?} kept {} stats {stats:?}",
        std::fs::metadata(alsa_dir().join("ct_out.raw")).map(|m| m.len()),
        out.len()
    );
    remove("ct_out.raw");
    remove("ct_in.copy");
    assert!(
        out.len() >= 10 * FRAME_SAMPLES,
        "played {} samples",
        out.len()
    );
    let share = tone_share(&out, 1000.0, &others(1000.0));
    assert!(share > 0.9, "1 kHz in {share} of the played frames");
    let share = tone_share(&captured, 2000.0, &others(2000.0));
    assert!(share > 0.9, "2 kHz in {share} of the captured frames");
    assert!(
        stats.playback.written >= 20 * FRAME_SAMPLES as u64,
        "{stats:?}"
    );
    let eight_k_mono = CardFormat {
        rate: 8000,
        channels: 1,
        sample_format: SampleFormat::I16,
    };
    assert_eq!(
        (stats.input_format, stats.output_format),
        (eight_k_mono, eight_k_mono)
    );
    assert!(
        stats.capture.written > 0 && stats.capture.overruns > 0,
        "{stats:?}"
    );
}

#[test]
fn converts_for_a_float_only_card() {
    alsa_dir();
    let _serial = serial();
    let dev = CpalDevice::new(None);
    dev.select_input(Some("ct_f32_in")).unwrap();
    dev.select_output(Some("ct_f32_out")).unwrap();
    let mut streams = dev.open(CallId(6)).unwrap();
    let mut tone = ToneGenerator::new(1000.0, 8000);
    let mut frame = [0i16; FRAME_SAMPLES];
    let mut captured = Vec::new();
    for i in 0..25 {
        streams.sink.write_frame(&tone.frame(FRAME_SAMPLES));
        streams.source.read_frame(&mut frame);
        if i >= 5 {
            captured.extend_from_slice(&frame);
        }
        tick();
    }
    let stats = dev.call_stats(CallId(6)).unwrap();
    drop(streams);
    let out = played("ct_f32_out.raw");
    remove("ct_f32_out.raw");
    remove("ct_f32_in.copy");
    assert_eq!(
        stats.input_format.sample_format,
        SampleFormat::F32,
        "{stats:?}"
    );
    assert_eq!(
        stats.output_format.sample_format,
        SampleFormat::F32,
        "{stats:?}"
    );
    assert!(
        out.len() >= 10 * FRAME_SAMPLES,
        "played {} samples",
        out.len()
    );
    let share = tone_share(&out, 1000.0, &others(1000.0));
    assert!(share > 0.9, "1 kHz in {share} of the played frames");
    let share = tone_share(&captured, 2000.0, &others(2000.0));
    assert!(share > 0.9, "2 kHz in {share} of the captured frames");
}

#[test]
fn resamples_for_a_card_at_48khz() {
    alsa_dir();
    let _serial = serial();
    let dev = CpalDevice::with_card_rate(None, 48000);
    dev.select_input(Some("ct_in48")).unwrap();
    dev.select_output(Some("ct_out48")).unwrap();
    let mut streams = dev.open(CallId(2)).unwrap();
    let mut tone = ToneGenerator::new(1000.0, 8000);
    let mut frame = [0i16; FRAME_SAMPLES];
    let mut captured = Vec::new();
    for i in 0..25 {
        streams.sink.write_frame(&tone.frame(FRAME_SAMPLES));
        streams.source.read_frame(&mut frame);
        if i >= 5 {
            captured.extend_from_slice(&frame);
        }
        tick();
    }
    let stats = dev.call_stats(CallId(2)).unwrap();
    assert_eq!(
        (stats.input_format.rate, stats.output_format.rate),
        (48000, 48000)
    );
    drop(streams);
    // The card's file is at 48 kHz: every sixth sample is the 8 kHz signal (the tone is far
    // below 4 kHz, nothing folds).
    let out: Vec<i16> = played("ct_out48.raw").into_iter().step_by(6).collect();
    remove("ct_out48.raw");
    remove("ct_in48.copy");
    assert!(
        out.len() >= 10 * FRAME_SAMPLES,
        "played {} samples",
        out.len()
    );
    let share = tone_share(&out, 1000.0, &others(1000.0));
    assert!(share > 0.9, "1 kHz in {share} of the played frames");
    let share = tone_share(&captured, 2000.0, &others(2000.0));
    assert!(share > 0.9, "2 kHz in {share} of the captured frames");
}

#[test]
fn lists_devices_and_remembers_the_choice() {
    let dir = alsa_dir();
    let _serial = serial();
    let settings = dir.join("settings").join("audio.json");
    let dev = CpalDevice::new(Some(settings.clone()));
    let list = dev.devices().unwrap();
    let names = |l: &[super::sound_card::DeviceInfo]| -> Vec<String> {
        l.iter().map(|d| d.name.clone()).collect()
    };
    let (ins, outs) = (names(&list.inputs), names(&list.outputs));
    assert!(ins.iter().any(|n| n == "ct_in"), "{ins:?}");
    assert!(outs.iter().any(|n| n == "ct_keep"), "{outs:?}");
    let defaults: Vec<&str> = list
        .outputs
        .iter()
        .filter(|d| d.is_default)
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(defaults, vec!["default"], "{:?}", list.outputs);
    assert!(list
        .inputs
        .iter()
        .any(|d| d.is_default && d.name == "default"));

    dev.select_output(Some("ct_keep")).unwrap();
    dev.select_input(Some("ct_in")).unwrap();
    assert!(matches!(
        dev.select_output(Some("ct_nowhere")),
        Err(AudioError::SoundCard(SoundCardError::UnknownDevice { .. }))
    ));
    let remembered = AudioSettings {
        input: Some("ct_in".into()),
        output: Some("ct_keep".into()),
    };
    assert_eq!(
        dev.settings(),
        remembered,
        "an unknown name changes nothing"
    );

    // A new start reads the choice back and opens it.
    let again = CpalDevice::new(Some(settings.clone()));
    assert_eq!(again.settings(), remembered);
    let streams = again.open(CallId(3)).unwrap();
    let stats = again.call_stats(CallId(3)).unwrap();
    assert_eq!(
        (stats.input.as_str(), stats.output.as_str()),
        ("ct_in", "ct_keep")
    );
    drop(streams);

    // A remembered device that is gone: the default, kept remembered for its return.
    AudioSettings {
        input: Some("ct_in".into()),
        output: Some("ct_unplugged".into()),
    }
    .save(&settings)
    .unwrap();
    let later = CpalDevice::new(Some(settings.clone()));
    let mut streams = later.open(CallId(4)).unwrap();
    let stats = later.call_stats(CallId(4)).unwrap();
    assert_eq!(
        (stats.input.as_str(), stats.output.as_str()),
        ("ct_in", "default")
    );
    assert_eq!(later.settings().output.as_deref(), Some("ct_unplugged"));
    let mut tone = ToneGenerator::new(1000.0, 8000);
    for _ in 0..10 {
        streams.sink.write_frame(&tone.frame(FRAME_SAMPLES));
        tick();
    }
    drop(streams);
    let out = played("ct_def_out.raw");
    assert!(
        tone_share(&out, 1000.0, &others(1000.0)) > 0.9,
        "default played the tone"
    );

    // An unreadable file: the defaults, no error.
    std::fs::write(&settings, b"not json").unwrap();
    assert_eq!(
        CpalDevice::new(Some(settings)).settings(),
        AudioSettings::default()
    );
    for f in [
        "ct_keep.raw",
        "ct_def_out.raw",
        "ct_in.copy",
        "ct_def_in.copy",
    ] {
        remove(f);
    }
}

#[test]
fn switches_devices_during_a_call() {
    alsa_dir();
    let _serial = serial();
    let dev = CpalDevice::new(None);
    dev.select_input(Some("ct_in")).unwrap();
    dev.select_output(Some("ct_sw_a")).unwrap();
    let mut streams = dev.open(CallId(5)).unwrap();
    let mut before = ToneGenerator::new(1000.0, 8000);
    let mut after = ToneGenerator::new(500.0, 8000);
    let mut frame = [0i16; FRAME_SAMPLES];
    let mut captured_before = Vec::new();
    for i in 0..15 {
        streams.sink.write_frame(&before.frame(FRAME_SAMPLES));
        streams.source.read_frame(&mut frame);
        if i >= 5 {
            captured_before.extend_from_slice(&frame);
        }
        tick();
    }
    tick();
    dev.select_output(Some("ct_sw_b")).unwrap();
    dev.select_input(Some("ct_in_b")).unwrap();
    let mut captured_after = Vec::new();
    for i in 0..15 {
        streams.sink.write_frame(&after.frame(FRAME_SAMPLES));
        streams.source.read_frame(&mut frame);
        if i >= 5 {
            captured_after.extend_from_slice(&frame);
        }
        tick();
    }
    let stats = dev.call_stats(CallId(5)).unwrap();
    assert_eq!(
        (stats.input.as_str(), stats.output.as_str()),
        ("ct_in_b", "ct_sw_b")
    );
    assert_eq!(stats.switches, 2);
    drop(streams);
    let (a, b) = (played("ct_sw_a.raw"), played("ct_sw_b.raw"));
    for f in ["ct_sw_a.raw", "ct_sw_b.raw", "ct_in.copy", "ct_in_b.copy"] {
        remove(f);
    }
    assert!(
        a.len() >= 5 * FRAME_SAMPLES && b.len() >= 5 * FRAME_SAMPLES,
        "{} {}",
        a.len(),
        b.len()
    );
    assert!(
        tone_share(&a, 1000.0, &others(1000.0)) > 0.9,
        "A played the first tone"
    );
    assert_eq!(
        tone_share(&a, 500.0, &others(500.0)),
        0.0,
        "A played nothing after the switch"
    );
    assert!(
        tone_share(&b, 500.0, &others(500.0)) > 0.9,
        "B played the second tone"
    );
    assert!(tone_share(&captured_before, 2000.0, &others(2000.0)) > 0.9);
    assert!(
        tone_share(&captured_after, 1000.0, &others(1000.0)) > 0.9,
        "microphone B"
    );
}
