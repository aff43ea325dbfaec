//! Runtime settings, from flags and environment variables (see `main.rs`).

use std::net::IpAddr;
use std::path::PathBuf;

/// What `pbx-server run` needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Directory holding the SQLite file and other state.
    pub data_dir: PathBuf,
    /// Database URL; `None` = `sqlite://<data_dir>/centralino.db`.
    pub database_url: Option<String>,
    /// Address the SIP, RTP and HTTP sockets bind to.
    pub bind: IpAddr,
    /// Address written into SIP headers and SDP; defaults to `bind` (or 127.0.0.1 when
    /// bound to the unspecified address).
    pub advertised: Option<IpAddr>,
    /// SIP port (UDP and TCP); 0 lets the OS choose (tests).
    pub sip_port: u16,
    /// HTTP port; 0 lets the OS choose.
    pub http_port: u16,
    /// HTTPS port (same routes as HTTP); 0 lets the OS choose.
    pub https_port: u16,
    /// PEM certificate chain for TLS; `None` = the data dir's (self-signed when generated).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS, given with `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// CTI port (newline-delimited JSON over TCP); 0 lets the OS choose.
    pub cti_port: u16,
    /// CTI over TLS (same framing as `cti_port`); 0 lets the OS choose.
    pub cti_tls_port: u16,
    /// Seconds between OPTIONS pings to registered devices (0: off).
    pub qualify_s: u64,
    /// Seconds a parked call waits before it rings the parker again (seed: 90).
    pub park_timeout_s: u64,
    /// Events kept for resuming CTI clients (also bounded to 10 minutes).
    pub cti_replay_events: usize,
    /// RTP port range for the media relay.
    pub rtp_min: u16,
    /// RTP port range end (inclusive).
    pub rtp_max: u16,
    /// Create the demo data on an empty database.
    pub demo: bool,
    /// Offer SHA-256 digest challenges besides MD5.
    pub digest_sha256: bool,
    /// Folder of the built web UI (`ui/dist`); `None` = next to the binary or the source tree.
    pub ui_dir: Option<PathBuf>,
}

impl Settings {
    /// The effective database URL.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("centralino.db").display()
            ),
        }
    }

    /// The address to advertise in SIP and SDP.
    pub fn advertised_ip(&self) -> IpAddr {
        match self.advertised {
            Some(ip) => ip,
            None if self.bind.is_unspecified() => IpAddr::from([127, 0, 0, 1]),
            None => self.bind,
        }
    }
}
