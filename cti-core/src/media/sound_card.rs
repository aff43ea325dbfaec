//! The phone on a real sound card, through cpal (ALSA on Linux, CoreAudio, WASAPI).
//!
//! [`CpalDevice`] opens, for each call, a capture stream on the chosen microphone and a
//! playback stream on the chosen speaker. cpal calls back on its own threads; between them
//! and the media task's 20 ms frame calls sit two bounded [`SampleRing`]s per call, so the
//! media task never waits for the card. Each ring holds 120 ms; it plays once it holds a
//! cushion of one frame, half a card period and 5 ms (30 ms with the 10 ms period asked
//! for), an empty one plays silence until primed again, a full one drops its oldest samples
//! down to the cushion (both counted). The callbacks convert between the card's format,
//! rate and channels and 8 kHz mono ([`super::resample`]): the card is asked for 8 kHz mono
//! when it offers it, otherwise it runs at a rate it offers and the audio is resampled.
//!
//! **Switching device during a call**: the media task keeps the [`AudioStreams`] it got;
//! its source and sink read and write the call's rings, and only the cpal streams behind
//! the rings are replaced ([`CpalDevice::select_input`], [`CpalDevice::select_output`]). The
//! new stream is opened before the old one is closed, so a failure leaves the call as it was.
//!
//! **Choice of device**: by the names [`CpalDevice::devices`] lists (cpal's device ids: the
//! ALSA PCM name on Linux), remembered in [`AudioSettings`] at the path the shell gives. A
//! remembered device that is not there (a headset left at home) gives the system default
//! with a warning, never an error; the choice stays remembered for when it comes back.
//!
//! Opening a stream is a blocking system call of a few milliseconds, done in
//! [`AudioDevice::open`] when a call is answered or placed.

use super::codec::{CLOCK_RATE, FRAME_SAMPLES};
use super::device::{AudioDevice, AudioError, AudioSink, AudioSource, AudioStreams};
use super::resample::{Downmix, Upmix};
use super::ring::{RingStats, SampleRing};
use super::settings::{AudioSettings, SettingsError};
use crate::phone::CallId;
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample, StreamConfig};
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// Samples each ring holds (120 ms): room for the cushion and for the drift between the
/// card's clock and the media tick before samples are dropped.
const RING_SAMPLES: usize = 6 * FRAME_SAMPLES;

/// Margin for the media tick's lateness (5 ms at 8 kHz) in the rings' cushion.
const TICK_JITTER_SAMPLES: usize = 40;

/// Card period asked for, in milliseconds (when the card tells its range).
const PERIOD_MS: u32 = 10;

/// Microphone or speaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Capture.
    Input,
    /// Playback.
    Output,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Input => "input",
            Direction::Output => "output",
        })
    }
}

/// Why a sound card could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SoundCardError {
    /// The system has no default device of that direction.
    #[error("no default {0} device")]
    NoDefault(Direction),
    /// A device chosen by name is not in the list.
    #[error("no {direction} device named {name}")]
    UnknownDevice {
        /// Input or output.
        direction: Direction,
        /// The name asked for.
        name: String,
    },
    /// cpal (the OS) refused an operation.
    #[error("{direction} device {device}: {op}: {source}")]
    Backend {
        /// Input or output.
        direction: Direction,
        /// The device's name.
        device: String,
        /// What was being done.
        op: &'static str,
        /// cpal's error.
        source: cpal::Error,
    },
    /// The device offers no format we convert.
    #[error("{direction} device {device}: no usable configuration (sample format {format:?})")]
    NoConfig {
        /// Input or output.
        direction: Direction,
        /// The device's name.
        device: String,
        /// The format of its default configuration, if it has one.
        format: Option<SampleFormat>,
    },
    /// Listing the devices failed.
    #[error("listing {direction} devices: {source}")]
    List {
        /// Input or output.
        direction: Direction,
        /// cpal's error.
        source: cpal::Error,
    },
    /// The remembered choice could not be saved.
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

/// One device in [`DeviceList`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// What to pass to `select_*` and what is remembered (the ALSA PCM name on Linux).
    pub name: String,
    /// A label for people ("HDA Intel PCH, ALC257 Analog").
    pub description: String,
    /// Whether this is the system's default device.
    pub is_default: bool,
}

/// The machine's microphones and speakers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceList {
    /// Capture devices.
    pub inputs: Vec<DeviceInfo>,
    /// Playback devices.
    pub outputs: Vec<DeviceInfo>,
}

/// The figures of one call's audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallAudioStats {
    /// The microphone in use.
    pub input: String,
    /// The speaker in use.
    pub output: String,
    /// The format the microphone runs in.
    pub input_format: CardFormat,
    /// The format the speaker runs in.
    pub output_format: CardFormat,
    /// Capture ring (the card writes, the media task reads): overruns are samples the
    /// media task did not take in time, underruns frames it found short.
    pub capture: RingStats,
    /// Playback ring (the media task writes, the card reads).
    pub playback: RingStats,
    /// Times a stream was replaced by a device switch.
    pub switches: u32,
}

/// How a stream runs on the card (8 kHz and 1 channel: no resampling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardFormat {
    /// Sample rate, Hz.
    pub rate: u32,
    /// Channels.
    pub channels: u16,
    /// Sample format.
    pub sample_format: SampleFormat,
}

/// A sound card for the phone; see the module docs.
#[derive(Clone)]
pub struct CpalDevice {
    shared: Arc<Shared>,
}

struct Shared {
    host: cpal::Host,
    settings_path: Option<PathBuf>,
    /// Rate asked of the card; 8 kHz unless set for a card whose 8 kHz is poor (or a test).
    card_rate: u32,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    settings: AudioSettings,
    calls: HashMap<CallId, CallAudio>,
}

struct CallAudio {
    capture: Arc<SampleRing>,
    playback: Arc<SampleRing>,
    input: OpenStream,
    output: OpenStream,
    switches: u32,
}

struct OpenStream {
    device: String,
    format: CardFormat,
    _stream: cpal::Stream,
}

impl fmt::Debug for CpalDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CpalDevice")
            .field("settings_path", &self.shared.settings_path)
            .field("card_rate", &self.shared.card_rate)
            .finish_non_exhaustive()
    }
}

impl CpalDevice {
    /// The system's audio host, with the choice remembered at `settings_path` (none: only
    /// the defaults, nothing remembered). An unreadable settings file is logged and ignored.
    pub fn new(settings_path: Option<PathBuf>) -> CpalDevice {
        CpalDevice::with_card_rate(settings_path, CLOCK_RATE)
    }

    /// As [`CpalDevice::new`], asking the cards for `card_rate` Hz rather than 8 kHz (the
    /// audio is then resampled): for cards whose 8 kHz mode is poor, and for tests of the
    /// resampler.
    pub fn with_card_rate(settings_path: Option<PathBuf>, card_rate: u32) -> CpalDevice {
        let settings = match settings_path.as_deref().map(AudioSettings::load) {
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "audio settings unreadable; using the default devices");
                AudioSettings::default()
            }
            None => AudioSettings::default(),
        };
        tracing::debug!(input = ?settings.input, output = ?settings.output, "audio settings loaded");
        CpalDevice {
            shared: Arc::new(Shared {
                host: cpal::default_host(),
                settings_path,
                card_rate,
                state: Mutex::new(State {
                    settings,
                    calls: HashMap::new(),
                }),
            }),
        }
    }

    /// The remembered choice.
    pub fn settings(&self) -> AudioSettings {
        lock(&self.shared.state).settings.clone()
    }

    /// Microphones and speakers, the system default marked.
    pub fn devices(&self) -> Result<DeviceList, AudioError> {
        Ok(DeviceList {
            inputs: self.list(Direction::Input)?,
            outputs: self.list(Direction::Output)?,
        })
    }

    /// Uses microphone `name` (`None`: the system default) from now on, for the calls in
    /// progress too, and remembers it. An unknown name or a device that cannot be opened is
    /// an error and changes nothing.
    pub fn select_input(&self, name: Option<&str>) -> Result<(), AudioError> {
        self.select(Direction::Input, name)
    }

    /// Uses speaker `name` (`None`: the system default) from now on, for the calls in
    /// progress too, and remembers it.
    pub fn select_output(&self, name: Option<&str>) -> Result<(), AudioError> {
        self.select(Direction::Output, name)
    }

    /// Figures of `call`'s audio, while it is open.
    pub fn call_stats(&self, call: CallId) -> Option<CallAudioStats> {
        let state = lock(&self.shared.state);
        state.calls.get(&call).map(|c| CallAudioStats {
            input: c.input.device.clone(),
            output: c.output.device.clone(),
            input_format: c.input.format,
            output_format: c.output.format,
            capture: c.capture.stats(),
            playback: c.playback.stats(),
            switches: c.switches,
        })
    }

    fn list(&self, dir: Direction) -> Result<Vec<DeviceInfo>, SoundCardError> {
        let default = self.default_device(dir).ok().map(|d| device_name(&d));
        Ok(self
            .raw_devices(dir)?
            .into_iter()
            .map(|d| {
                let name = device_name(&d);
                DeviceInfo {
                    description: d
                        .description()
                        .map(|x| x.name().to_owned())
                        .unwrap_or_else(|_| name.clone()),
                    is_default: default.as_deref() == Some(name.as_str()),
                    name,
                }
            })
            .collect())
    }

    fn raw_devices(&self, dir: Direction) -> Result<Vec<cpal::Device>, SoundCardError> {
        let host = &self.shared.host;
        let list = match dir {
            Direction::Input => host.input_devices().map(|d| d.collect()),
            Direction::Output => host.output_devices().map(|d| d.collect()),
        };
        list.map_err(|source| SoundCardError::List {
            direction: dir,
            source,
        })
    }

    fn default_device(&self, dir: Direction) -> Result<cpal::Device, SoundCardError> {
        match dir {
            Direction::Input => self.shared.host.default_input_device(),
            Direction::Output => self.shared.host.default_output_device(),
        }
        .ok_or(SoundCardError::NoDefault(dir))
    }

    fn find(&self, dir: Direction, name: &str) -> Result<Option<cpal::Device>, SoundCardError> {
        Ok(self
            .raw_devices(dir)?
            .into_iter()
            .find(|d| device_name(d) == name))
    }

    /// The remembered device, or the default (with a warning) when it is not there.
    fn resolve(
        &self,
        dir: Direction,
        remembered: Option<&str>,
    ) -> Result<cpal::Device, SoundCardError> {
        if let Some(name) = remembered {
            match self.find(dir, name) {
                Ok(Some(d)) => return Ok(d),
                Ok(None) => {
                    tracing::warn!(%dir, device = name, "remembered audio device is missing; using the default")
                }
                Err(e) => {
                    tracing::warn!(%dir, device = name, error = %e, "cannot list audio devices; using the default")
                }
            }
        }
        self.default_device(dir)
    }

    fn select(&self, dir: Direction, name: Option<&str>) -> Result<(), AudioError> {
        let device = match name {
            Some(n) => self
                .find(dir, n)?
                .ok_or_else(|| SoundCardError::UnknownDevice {
                    direction: dir,
                    name: n.to_owned(),
                })?,
            None => self.default_device(dir)?,
        };
        let mut state = lock(&self.shared.state);
        // Open every new stream first: a failure leaves all calls on the old device.
        let mut fresh = Vec::with_capacity(state.calls.len());
        for (call, audio) in &state.calls {
            let ring = match dir {
                Direction::Input => &audio.capture,
                Direction::Output => &audio.playback,
            };
            fresh.push((*call, self.open_stream(dir, &device, ring.clone())?));
        }
        let mut old = Vec::with_capacity(fresh.len());
        for (call, stream) in fresh {
            if let Some(audio) = state.calls.get_mut(&call) {
                tracing::info!(%call, %dir, from = %match dir {
                    Direction::Input => &audio.input.device,
                    Direction::Output => &audio.output.device,
                }, to = %stream.device, "audio device switched during the call");
                let slot = match dir {
                    Direction::Input => &mut audio.input,
                    Direction::Output => &mut audio.output,
                };
                old.push(std::mem::replace(slot, stream));
                audio.switches += 1;
            }
        }
        let choice = name.map(str::to_owned);
        match dir {
            Direction::Input => state.settings.input = choice,
            Direction::Output => state.settings.output = choice,
        }
        let settings = state.settings.clone();
        drop(state);
        // Closing joins cpal's thread: outside the lock.
        drop(old);
        if let Some(path) = &self.shared.settings_path {
            if let Err(e) = settings.save(path) {
                tracing::warn!(error = %e, "audio device choice not saved");
            }
        }
        Ok(())
    }

    fn open_stream(
        &self,
        dir: Direction,
        device: &cpal::Device,
        ring: Arc<SampleRing>,
    ) -> Result<OpenStream, SoundCardError> {
        let name = device_name(device);
        let (config, format) = choose_config(device, dir, self.shared.card_rate)?;
        let backend = |op, source| SoundCardError::Backend {
            direction: dir,
            device: name.clone(),
            op,
            source,
        };
        let stream = match dir {
            Direction::Input => build_input(device, config, format, ring.clone(), name.clone()),
            Direction::Output => build_output(device, config, format, ring.clone(), name.clone()),
        }
        .map_err(|e| backend("opening the stream", e))?
        .ok_or_else(|| SoundCardError::NoConfig {
            direction: dir,
            device: name.clone(),
            format: Some(format),
        })?;
        ring.set_prefill(cushion(&config));
        stream
            .play()
            .map_err(|e| backend("starting the stream", e))?;
        tracing::debug!(%dir, device = %name, rate = config.sample_rate, channels = config.channels, ?format, "sound card stream open");
        Ok(OpenStream {
            device: name,
            format: CardFormat {
                rate: config.sample_rate,
                channels: config.channels,
                sample_format: format,
            },
            _stream: stream,
        })
    }
}

impl AudioDevice for CpalDevice {
    fn open(&self, call: CallId) -> Result<AudioStreams, AudioError> {
        let settings = self.settings();
        let input_dev = self.resolve(Direction::Input, settings.input.as_deref())?;
        let output_dev = self.resolve(Direction::Output, settings.output.as_deref())?;
        let capture = Arc::new(SampleRing::new(RING_SAMPLES, FRAME_SAMPLES));
        let playback = Arc::new(SampleRing::new(RING_SAMPLES, FRAME_SAMPLES));
        let input = self.open_stream(Direction::Input, &input_dev, capture.clone())?;
        let output = self.open_stream(Direction::Output, &output_dev, playback.clone())?;
        tracing::info!(%call, input = %input.device, output = %output.device, "call audio on the sound card");
        let previous = lock(&self.shared.state).calls.insert(
            call,
            CallAudio {
                capture: capture.clone(),
                playback: playback.clone(),
                input,
                output,
                switches: 0,
            },
        );
        drop(previous);
        let life = Arc::new(CallLife {
            call,
            shared: Arc::downgrade(&self.shared),
        });
        Ok(AudioStreams {
            source: Box::new(CardSource {
                ring: capture,
                _life: life.clone(),
            }),
            sink: Box::new(CardSink {
                ring: playback,
                _life: life,
            }),
        })
    }
}

/// Closes a call's cpal streams once the media task dropped both its source and its sink.
struct CallLife {
    call: CallId,
    shared: Weak<Shared>,
}

impl Drop for CallLife {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            let audio = lock(&shared.state).calls.remove(&self.call);
            if let Some(a) = &audio {
                let (c, p) = (a.capture.stats(), a.playback.stats());
                tracing::debug!(call = %self.call, capture_overruns = c.overruns, capture_underruns = c.underruns,
                    playback_overruns = p.overruns, playback_underruns = p.underruns, "call audio closed");
            }
            drop(audio);
        }
    }
}

struct CardSource {
    ring: Arc<SampleRing>,
    _life: Arc<CallLife>,
}

impl AudioSource for CardSource {
    fn read_frame(&mut self, frame: &mut [i16]) {
        self.ring.read(frame);
    }
}

struct CardSink {
    ring: Arc<SampleRing>,
    _life: Arc<CallLife>,
}

impl AudioSink for CardSink {
    fn write_frame(&mut self, frame: &[i16]) {
        self.ring.write(frame);
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding the lock leaves plain data behind: carry on with it.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// The name a device is chosen and remembered by.
fn device_name(d: &cpal::Device) -> String {
    d.id()
        .map(|id| id.id().to_owned())
        .unwrap_or_else(|_| d.to_string())
}

/// What a ring holds before it plays: one media frame, half a card period (in 8 kHz
/// samples; 20 ms when the card chooses) and the tick's jitter, so that neither side finds
/// it empty in steady state (30 ms with a 10 ms period); at most 4 frames.
fn cushion(config: &StreamConfig) -> usize {
    let period = match config.buffer_size {
        cpal::BufferSize::Fixed(n) => {
            (u64::from(n) * u64::from(CLOCK_RATE) / u64::from(config.sample_rate.max(1))) as usize
        }
        cpal::BufferSize::Default => FRAME_SAMPLES,
    };
    (FRAME_SAMPLES + period / 2 + TICK_JITTER_SAMPLES).min(4 * FRAME_SAMPLES)
}

/// Formats we convert, best first.
fn format_rank(f: SampleFormat) -> Option<u8> {
    match f {
        SampleFormat::I16 => Some(0),
        SampleFormat::F32 => Some(1),
        SampleFormat::I32 => Some(2),
        SampleFormat::I24 => Some(3),
        SampleFormat::F64 => Some(4),
        SampleFormat::U16 => Some(5),
        SampleFormat::U8 => Some(6),
        _ => None,
    }
}

/// `rate` with the fewest channels and the best format when the device offers it, else
/// the device's default configuration.
fn choose_config(
    device: &cpal::Device,
    dir: Direction,
    rate: u32,
) -> Result<(StreamConfig, SampleFormat), SoundCardError> {
    let name = device_name(device);
    let backend = |op, source| SoundCardError::Backend {
        direction: dir,
        device: name.clone(),
        op,
        source,
    };
    let ranges: Vec<cpal::SupportedStreamConfigRange> = match dir {
        Direction::Input => device.supported_input_configs().map(|r| r.collect()),
        Direction::Output => device.supported_output_configs().map(|r| r.collect()),
    }
    .map_err(|e| backend("listing configurations", e))?;
    let best = ranges
        .iter()
        .filter(|r| r.channels() > 0 && r.min_sample_rate() <= rate && rate <= r.max_sample_rate())
        .filter_map(|r| format_rank(r.sample_format()).map(|k| (r, k)))
        .min_by_key(|(r, k)| (r.channels(), *k))
        .map(|(r, _)| r.with_sample_rate(rate));
    let supported = match best {
        Some(s) => s,
        None => {
            let default = match dir {
                Direction::Input => device.default_input_config(),
                Direction::Output => device.default_output_config(),
            }
            .map_err(|e| backend("default configuration", e))?;
            if format_rank(default.sample_format()).is_none() {
                return Err(SoundCardError::NoConfig {
                    direction: dir,
                    device: name.clone(),
                    format: Some(default.sample_format()),
                });
            }
            default
        }
    };
    let mut config = supported.config();
    if let cpal::SupportedBufferSize::Range { min, max } = supported.buffer_size() {
        let want = config.sample_rate * PERIOD_MS / 1000;
        config.buffer_size = cpal::BufferSize::Fixed(want.clamp(*min, (*max).max(*min)));
    }
    Ok((config, supported.sample_format()))
}

fn log_stream_error(device: &str, dir: Direction, e: &cpal::Error) {
    if e.kind() == cpal::ErrorKind::Xrun {
        tracing::debug!(device, %dir, "sound card xrun");
    } else {
        tracing::warn!(device, %dir, error = %e, "sound card stream error");
    }
}

/// `Ok(None)`: a format we do not convert.
fn build_input(
    device: &cpal::Device,
    config: StreamConfig,
    format: SampleFormat,
    ring: Arc<SampleRing>,
    name: String,
) -> Result<Option<cpal::Stream>, cpal::Error> {
    fn typed<T>(
        device: &cpal::Device,
        config: StreamConfig,
        ring: Arc<SampleRing>,
        name: String,
    ) -> Result<cpal::Stream, cpal::Error>
    where
        T: SizedSample,
        f32: FromSample<T>,
    {
        let mut down = Downmix::new(config.sample_rate, config.channels);
        let mut card = Vec::new();
        let mut phone = Vec::new();
        device.build_input_stream::<T, _, _>(
            config,
            move |data: &[T], _| {
                card.clear();
                card.extend(data.iter().map(|s| s.to_sample::<f32>()));
                phone.clear();
                down.process(&card, |s| phone.push(s));
                ring.write(&phone);
            },
            move |e| log_stream_error(&name, Direction::Input, &e),
            None,
        )
    }
    Ok(Some(match format {
        SampleFormat::I16 => typed::<i16>(device, config, ring, name)?,
        SampleFormat::F32 => typed::<f32>(device, config, ring, name)?,
        SampleFormat::I32 => typed::<i32>(device, config, ring, name)?,
        SampleFormat::I24 => typed::<cpal::I24>(device, config, ring, name)?,
        SampleFormat::F64 => typed::<f64>(device, config, ring, name)?,
        SampleFormat::U16 => typed::<u16>(device, config, ring, name)?,
        SampleFormat::U8 => typed::<u8>(device, config, ring, name)?,
        _ => return Ok(None),
    }))
}

/// `Ok(None)`: a format we do not convert.
fn build_output(
    device: &cpal::Device,
    config: StreamConfig,
    format: SampleFormat,
    ring: Arc<SampleRing>,
    name: String,
) -> Result<Option<cpal::Stream>, cpal::Error> {
    fn typed<T>(
        device: &cpal::Device,
        config: StreamConfig,
        ring: Arc<SampleRing>,
        name: String,
    ) -> Result<cpal::Stream, cpal::Error>
    where
        T: SizedSample + FromSample<f32>,
    {
        let mut up = Upmix::new(config.sample_rate, config.channels);
        let mut card = Vec::new();
        device.build_output_stream::<T, _, _>(
            config,
            move |data: &mut [T], _| {
                card.clear();
                card.resize(data.len(), 0.0f32);
                ring.read_with(|take| up.process(&mut card, take));
                for (d, s) in data.iter_mut().zip(&card) {
                    *d = T::from_sample(*s);
                }
            },
            move |e| log_stream_error(&name, Direction::Output, &e),
            None,
        )
    }
    Ok(Some(match format {
        SampleFormat::I16 => typed::<i16>(device, config, ring, name)?,
        SampleFormat::F32 => typed::<f32>(device, config, ring, name)?,
        SampleFormat::I32 => typed::<i32>(device, config, ring, name)?,
        SampleFormat::I24 => typed::<cpal::I24>(device, config, ring, name)?,
        SampleFormat::F64 => typed::<f64>(device, config, ring, name)?,
        SampleFormat::U16 => typed::<u16>(device, config, ring, name)?,
        SampleFormat::U8 => typed::<u8>(device, config, ring, name)?,
        _ => return Ok(None),
    }))
}
