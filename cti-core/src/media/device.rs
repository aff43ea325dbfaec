//! Audio input and output behind traits, so that the phone runs on a sound card
//! ([`super::sound_card`], feature `sound-card`), on files, tones and silence (tests), and records what it plays.
//!
//! The media clock pulls one 20 ms frame (160 samples at 8 kHz, mono) from the
//! [`AudioSource`] and pushes one to the [`AudioSink`] on every tick. Both are called from
//! the call's async media task, so they must not block: a sound-card implementation puts
//! ring buffers between them and the audio callback threads.

use super::codec::{CLOCK_RATE, FRAME_SAMPLES};
use crate::phone::CallId;
use media_core::{read_wav, write_wav, ToneGenerator, WavError};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Most samples a [`Recording`] keeps (10 minutes); later frames are counted, not kept.
pub const MAX_RECORDED_SAMPLES: usize = 10 * 60 * CLOCK_RATE as usize;

/// Why audio could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// Reading a file failed.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A WAV file we cannot read.
    #[error("WAV: {0}")]
    Wav(#[from] WavError),
    /// Only 8 kHz audio is played as is (resampling is not done yet).
    #[error("sample rate {0} Hz is not 8000 Hz")]
    SampleRate(u32),
    /// The device is gone or busy.
    #[error("audio device unavailable: {0}")]
    Unavailable(String),
    /// A sound card could not be used.
    #[cfg(feature = "sound-card")]
    #[error(transparent)]
    SoundCard(#[from] super::sound_card::SoundCardError),
}

/// Where the microphone's audio comes from.
pub trait AudioSource: Send {
    /// Fills `frame` (160 samples, 20 ms) with the next captured audio.
    fn read_frame(&mut self, frame: &mut [i16]);
}

/// Where received audio is played.
pub trait AudioSink: Send {
    /// Plays one frame (160 samples, 20 ms).
    fn write_frame(&mut self, frame: &[i16]);
}

/// Capture and playback for one call.
pub struct AudioStreams {
    /// Microphone side.
    pub source: Box<dyn AudioSource>,
    /// Speaker side.
    pub sink: Box<dyn AudioSink>,
}

/// An audio device (sound card, or a test double): opens streams for each call.
pub trait AudioDevice: Send + Sync {
    /// Opens capture and playback for `call` (when it is answered or placed).
    fn open(&self, call: CallId) -> Result<AudioStreams, AudioError>;
}

/// Silence.
#[derive(Debug, Default, Clone, Copy)]
pub struct SilenceSource;

impl AudioSource for SilenceSource {
    fn read_frame(&mut self, frame: &mut [i16]) {
        frame.fill(0);
    }
}

/// A steady sine tone.
#[derive(Debug, Clone)]
pub struct ToneSource(ToneGenerator);

impl ToneSource {
    /// A sine at `freq_hz` with peak `amplitude`.
    pub fn new(freq_hz: f32, amplitude: i16) -> ToneSource {
        ToneSource(ToneGenerator::new(freq_hz, amplitude))
    }
}

impl AudioSource for ToneSource {
    fn read_frame(&mut self, frame: &mut [i16]) {
        self.0.fill(frame);
    }
}

/// The samples of an 8 kHz mono WAV file, played once (then silence) or looped.
#[derive(Debug, Clone)]
pub struct WavSource {
    samples: Arc<[i16]>,
    pos: usize,
    looped: bool,
}

impl WavSource {
    /// From the bytes of a WAV file.
    pub fn from_bytes(bytes: &[u8], looped: bool) -> Result<WavSource, AudioError> {
        let wav = read_wav(bytes)?;
        if wav.sample_rate != CLOCK_RATE {
            return Err(AudioError::SampleRate(wav.sample_rate));
        }
        Ok(WavSource {
            samples: wav.samples.into(),
            pos: 0,
            looped,
        })
    }

    /// From a WAV file on disk.
    pub fn open(path: &Path, looped: bool) -> Result<WavSource, AudioError> {
        let bytes = std::fs::read(path).map_err(|source| AudioError::Io {
            path: path.display().to_string(),
            source,
        })?;
        WavSource::from_bytes(&bytes, looped)
    }

    /// Whether a non-looped file has been played to its end.
    pub fn finished(&self) -> bool {
        !self.looped && self.pos >= self.samples.len()
    }
}

impl AudioSource for WavSource {
    fn read_frame(&mut self, frame: &mut [i16]) {
        for s in frame.iter_mut() {
            if self.pos >= self.samples.len() && self.looped && !self.samples.is_empty() {
                self.pos = 0;
            }
            *s = self.samples.get(self.pos).copied().unwrap_or(0);
            self.pos = self.pos.saturating_add(1);
        }
    }
}

/// Discards what it is given.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl AudioSink for NullSink {
    fn write_frame(&mut self, _frame: &[i16]) {}
}

/// What a [`RecordingSink`] received, shared with whoever inspects it.
#[derive(Debug, Clone, Default)]
pub struct Recording(Arc<Mutex<RecordingInner>>);

#[derive(Debug, Default)]
struct RecordingInner {
    samples: Vec<i16>,
    dropped: usize,
}

impl Recording {
    /// An empty recording.
    pub fn new() -> Recording {
        Recording::default()
    }

    /// Samples recorded so far (one 8 kHz sample per 125 µs of playout).
    pub fn len(&self) -> usize {
        self.0.lock().map(|r| r.samples.len()).unwrap_or(0)
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of the samples from index `from` on.
    pub fn since(&self, from: usize) -> Vec<i16> {
        self.0
            .lock()
            .map(|r| r.samples.get(from..).unwrap_or_default().to_vec())
            .unwrap_or_default()
    }

    /// A copy of everything.
    pub fn samples(&self) -> Vec<i16> {
        self.since(0)
    }

    /// The recording as a WAV file.
    pub fn to_wav(&self) -> Vec<u8> {
        write_wav(&self.samples(), CLOCK_RATE)
    }

    fn push(&self, frame: &[i16]) {
        if let Ok(mut r) = self.0.lock() {
            if r.samples.len() + frame.len() <= MAX_RECORDED_SAMPLES {
                r.samples.extend_from_slice(frame);
            } else {
                r.dropped += frame.len();
            }
        }
    }
}

/// Records what is played.
#[derive(Debug, Clone, Default)]
pub struct RecordingSink(pub Recording);

impl AudioSink for RecordingSink {
    fn write_frame(&mut self, frame: &[i16]) {
        self.0.push(frame);
    }
}

type SourceFactory = dyn Fn() -> Box<dyn AudioSource> + Send + Sync;

/// A device for tests: every call gets a source from a factory (a tone, a WAV file,
/// silence) and a recording sink, kept per call.
pub struct TestDevice {
    source: Box<SourceFactory>,
    recordings: Mutex<HashMap<CallId, Recording>>,
}

impl std::fmt::Debug for TestDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDevice").finish_non_exhaustive()
    }
}

impl TestDevice {
    /// Sources made by `source`.
    pub fn new(source: impl Fn() -> Box<dyn AudioSource> + Send + Sync + 'static) -> TestDevice {
        TestDevice {
            source: Box::new(source),
            recordings: Mutex::new(HashMap::new()),
        }
    }

    /// Every call sends a sine at `freq_hz` (peak 8000, about -12 dBFS).
    pub fn tone(freq_hz: f32) -> TestDevice {
        TestDevice::new(move || Box::new(ToneSource::new(freq_hz, 8000)))
    }

    /// Every call sends silence.
    pub fn silence() -> TestDevice {
        TestDevice::new(|| Box::new(SilenceSource))
    }

    /// What `call` played so far.
    pub fn recording(&self, call: CallId) -> Option<Recording> {
        self.recordings
            .lock()
            .ok()
            .and_then(|r| r.get(&call).cloned())
    }
}

impl AudioDevice for TestDevice {
    fn open(&self, call: CallId) -> Result<AudioStreams, AudioError> {
        let rec = Recording::new();
        if let Ok(mut r) = self.recordings.lock() {
            r.insert(call, rec.clone());
        }
        Ok(AudioStreams {
            source: (self.source)(),
            sink: Box::new(RecordingSink(rec)),
        })
    }
}

/// Frames of [`FRAME_SAMPLES`] in `samples` in which `freq` dominates, out of all frames
/// (a helper for tests and checks: 20 ms Goertzel blocks).
pub fn tone_share(samples: &[i16], freq: f32, others: &[f32]) -> f64 {
    let mut candidates = vec![freq];
    candidates.extend_from_slice(others);
    let frames = samples.chunks_exact(FRAME_SAMPLES);
    let n = frames.len();
    let hits = frames
        .filter(|f| media_core::detect_tone(f, &candidates) == Some(freq))
        .count();
    hits as f64 / n.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_device_records_per_call_and_sources_make_sound() {
        let dev = TestDevice::tone(1000.0);
        let mut s = dev.open(CallId(1)).unwrap();
        let mut frame = [0i16; FRAME_SAMPLES];
        s.source.read_frame(&mut frame);
        assert_eq!(tone_share(&frame, 1000.0, &[2000.0]), 1.0);
        s.sink.write_frame(&frame);
        s.sink.write_frame(&[0; FRAME_SAMPLES]);
        let rec = dev.recording(CallId(1)).unwrap();
        assert_eq!(rec.len(), 2 * FRAME_SAMPLES);
        assert_eq!(rec.since(FRAME_SAMPLES), vec![0; FRAME_SAMPLES]);
        assert!(dev.recording(CallId(2)).is_none());
        let wav = read_wav(&rec.to_wav()).unwrap();
        assert_eq!(wav.samples.len(), 320);
        let mut silence = TestDevice::silence().open(CallId(3)).unwrap();
        silence.source.read_frame(&mut frame);
        assert!(frame.iter().all(|s| *s == 0));
        NullSink.write_frame(&frame);
    }

    #[test]
    fn wav_sources_play_once_or_loop() {
        let samples: Vec<i16> = (1..=200).collect();
        let bytes = write_wav(&samples, 8000);
        let mut once = WavSource::from_bytes(&bytes, false).unwrap();
        let mut frame = [0i16; FRAME_SAMPLES];
        once.read_frame(&mut frame);
        assert_eq!(frame[0], 1);
        once.read_frame(&mut frame);
        assert_eq!(frame[39], 200);
        assert_eq!(frame[40], 0);
        assert!(once.finished());
        let mut looped = WavSource::from_bytes(&bytes, true).unwrap();
        looped.read_frame(&mut frame);
        looped.read_frame(&mut frame);
        assert_eq!(frame[40], 1, "starts over");
        assert!(!looped.finished());
        assert!(matches!(
            WavSource::from_bytes(&write_wav(&samples, 16000), false),
            Err(AudioError::SampleRate(16000))
        ));
        assert!(matches!(
            WavSource::from_bytes(b"nope", false),
            Err(AudioError::Wav(_))
        ));
        assert!(matches!(
            WavSource::open(Path::new("/nonexistent.wav"), false),
            Err(AudioError::Io { .. })
        ));
    }
}
