//! The user's choice of microphone and speaker, remembered across runs as a small JSON file
//! at a path the shell gives (the desktop app and the mobile apps pass their config dir).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Name of the file in the shell's config directory.
pub const AUDIO_SETTINGS_FILE: &str = "audio.json";

/// Why the settings could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Reading or writing the file failed.
    #[error("audio settings {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not the JSON we write.
    #[error("audio settings {path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The error.
        source: serde_json::Error,
    },
}

/// The chosen devices, by the names [`crate::media::sound_card`] lists; `None` is the
/// system default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioSettings {
    /// Microphone.
    #[serde(default)]
    pub input: Option<String>,
    /// Speaker or headset.
    #[serde(default)]
    pub output: Option<String>,
}

impl AudioSettings {
    /// Reads `path`; a file that does not exist yet gives the defaults.
    pub fn load(path: &Path) -> Result<AudioSettings, SettingsError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| SettingsError::Json {
                path: path.to_owned(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AudioSettings::default()),
            Err(source) => Err(SettingsError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Writes `path` (through a temporary file and a rename, so a crash leaves the old or the
    /// new file, never half of one).
    pub fn save(&self, path: &Path) -> Result<(), SettingsError> {
        let io = |source| SettingsError::Io {
            path: path.to_owned(),
            source,
        };
        let json = serde_json::to_vec_pretty(self).map_err(|source| SettingsError::Json {
            path: path.to_owned(),
            source,
        })?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        std::fs::write(&tmp, json).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_missing_file_is_default() {
        let dir = std::env::temp_dir().join(format!("centralino-audio-{}", std::process::id()));
        let path = dir.join("sub").join(AUDIO_SETTINGS_FILE);
        assert_eq!(
            AudioSettings::load(&path).unwrap(),
            AudioSettings::default()
        );
        let s = AudioSettings {
            input: Some("hw:CARD=Headset,DEV=0".into()),
            output: None,
        };
        s.save(&path).unwrap();
        assert_eq!(AudioSettings::load(&path).unwrap(), s);
        std::fs::write(&path, b"{").unwrap();
        assert!(matches!(
            AudioSettings::load(&path),
            Err(SettingsError::Json { .. })
        ));
        std::fs::write(&path, b"{}").unwrap();
        assert_eq!(
            AudioSettings::load(&path).unwrap(),
            AudioSettings::default()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
