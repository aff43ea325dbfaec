//! The app's settings, a JSON file in the user's configuration folder
//! (`~/.config/org.centralino.desktop/desktop.json` on Linux). The local API's token is made
//! at the first start and written there with owner-only permissions, so a program the user
//! runs can read it and others cannot.

use crate::actions::ActionSettings;
use crate::local_api;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Everything the desktop app keeps between runs (the server and user are kept by the UI).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// The local HTTP API.
    #[serde(default)]
    pub api: ApiSettings,
    /// Automatic actions on calls.
    #[serde(default)]
    pub actions: ActionSettings,
    /// Native notifications of incoming and missed calls.
    #[serde(default)]
    pub notifications: NotificationSettings,
}

/// The notifications' settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationSettings {
    /// Off switch.
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        NotificationSettings { enabled: true }
    }
}

/// The local HTTP API's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiSettings {
    /// Off switch.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Loopback port (0: any free one, written back to the file once known).
    #[serde(default = "default_port")]
    pub port: u16,
    /// The bearer token; made at the first start.
    #[serde(default)]
    pub token: String,
}

fn yes() -> bool {
    true
}

fn default_port() -> u16 {
    local_api::DEFAULT_PORT
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            enabled: true,
            port: local_api::DEFAULT_PORT,
            token: String::new(),
        }
    }
}

/// Why the settings could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid settings.
    #[error("{path}: {source}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
}

impl Settings {
    /// The settings file inside `dir`.
    pub fn file(dir: &Path) -> PathBuf {
        dir.join("desktop.json")
    }

    /// Reads the settings from `dir`; a missing file gives the defaults. A token is made when
    /// there is none, and the file written back.
    pub fn load(dir: &Path) -> Result<Settings, SettingsError> {
        let path = Settings::file(dir);
        let mut s = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|source| SettingsError::Format {
                path: path.clone(),
                source,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Settings::default(),
            Err(source) => return Err(SettingsError::Io { path, source }),
        };
        if s.api.token.len() < 16 {
            s.api.token = local_api::new_token();
            s.save(dir)?;
        }
        Ok(s)
    }

    /// Writes the settings into `dir` (owner-only on Unix: the file holds the token).
    pub fn save(&self, dir: &Path) -> Result<(), SettingsError> {
        let path = Settings::file(dir);
        let io = |source| SettingsError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let text = serde_json::to_vec_pretty(self).map_err(|source| SettingsError::Format {
            path: path.clone(),
            source,
        })?;
        let tmp = path.with_extension("json.tmp");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp).map_err(io)?;
        std::io::Write::write_all(&mut f, &text).map_err(io)?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_load_makes_a_private_token_and_keeps_it() {
        let dir = std::env::temp_dir().join(format!("cti-desktop-settings-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = Settings::load(&dir).unwrap();
        assert_eq!(a.api.token.len(), 64);
        assert_eq!(a.api.port, local_api::DEFAULT_PORT);
        let b = Settings::load(&dir).unwrap();
        assert_eq!(a, b, "the token is kept");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(Settings::file(&dir))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "only the owner reads the token");
        }
        std::fs::write(Settings::file(&dir), "{oops").unwrap();
        assert!(matches!(
            Settings::load(&dir),
            Err(SettingsError::Format { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
