//! `pbx-server`: the Centralino PBX binary.

use clap::{Parser, Subcommand};
use pbx_server::config::Settings;
use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "pbx-server", version, about = "Centralino IP-PBX")]
struct Cli {
    /// Directory for the SQLite database and other state.
    #[arg(
        long,
        env = "CENTRALINO_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    data_dir: PathBuf,
    /// Database URL (`sqlite://...` or `postgres://...`); default: SQLite in the data dir.
    #[arg(long, env = "CENTRALINO_DATABASE_URL", global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the PBX.
    Run {
        /// Address to bind SIP, RTP and HTTP to.
        #[arg(long, env = "CENTRALINO_BIND", default_value = "0.0.0.0")]
        bind: IpAddr,
        /// Address to write into SIP headers and SDP (default: the bind address).
        #[arg(long, env = "CENTRALINO_ADVERTISE")]
        advertise: Option<IpAddr>,
        /// SIP port (UDP and TCP); 0 picks a free one.
        #[arg(long, env = "CENTRALINO_SIP_PORT", default_value_t = 5060)]
        sip_port: u16,
        /// HTTP port; 0 picks a free one.
        #[arg(long, env = "CENTRALINO_HTTP_PORT", default_value_t = 8080)]
        http_port: u16,
        /// HTTPS port (web and REST API over TLS); 0 picks a free one. Default 8443, or a
        /// free port when --http-port is 0.
        #[arg(long, env = "CENTRALINO_HTTPS_PORT")]
        https_port: Option<u16>,
        /// PEM certificate (chain) for HTTPS; default: `<data dir>/tls/cert.pem`, self-signed
        /// on first start.
        #[arg(long, env = "CENTRALINO_TLS_CERT", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key for --tls-cert.
        #[arg(long, env = "CENTRALINO_TLS_KEY", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// CTI port (newline-delimited JSON over TCP); 0 picks a free one.
        #[arg(long, env = "CENTRALINO_CTI_PORT", default_value_t = 5039)]
        cti_port: u16,
        /// CTI over TLS (same JSON lines, the server's certificate); 0 picks a free one.
        /// Default 5040, or a free port when --cti-port is 0.
        #[arg(long, env = "CENTRALINO_CTI_TLS_PORT")]
        cti_tls_port: Option<u16>,
        /// Seconds between OPTIONS pings measuring each registered device's latency (0: off).
        #[arg(long, env = "CENTRALINO_QUALIFY_INTERVAL", default_value_t = 30)]
        qualify_interval: u64,
        /// Seconds a parked call waits for retrieval before it rings the parker again.
        #[arg(long, env = "CENTRALINO_PARK_TIMEOUT", default_value_t = 90)]
        park_timeout_s: u64,
        /// Events kept for resuming CTI clients (also bounded to 10 minutes).
        #[arg(long, env = "CENTRALINO_CTI_REPLAY_EVENTS", default_value_t = 10_000)]
        cti_replay_events: usize,
        /// First RTP port of the relay.
        #[arg(long, env = "CENTRALINO_RTP_MIN", default_value_t = 10000)]
        rtp_min: u16,
        /// Last RTP port of the relay.
        #[arg(long, env = "CENTRALINO_RTP_MAX", default_value_t = 20000)]
        rtp_max: u16,
        /// Create demo extensions 201-208 on an empty database.
        #[arg(long, env = "CENTRALINO_DEMO")]
        demo: bool,
        /// Also challenge with SHA-256 digest (RFC 8760), after MD5.
        #[arg(long, env = "CENTRALINO_DIGEST_SHA256")]
        digest_sha256: bool,
        /// Folder of the built web UI (WebCTI) served at `/`; default: `ui/` next to the
        /// binary, else the source tree's `ui/dist`.
        #[arg(long, env = "CENTRALINO_UI_DIR")]
        ui_dir: Option<PathBuf>,
    },
    /// Print call records.
    Cdr {
        /// One JSON object per line, newest last.
        #[arg(long)]
        json: bool,
        /// Only the last N records.
        #[arg(long)]
        last: Option<i64>,
    },
    /// Print the registered locations as JSON lines.
    Locations,
    /// Create the demo data (extensions 201-208) on an empty database, then exit.
    SeedDemo,
    /// Add a SIP account (another device) to an extension.
    AddAccount {
        /// Extension number.
        extension: String,
        /// SIP username (unique).
        username: String,
        /// SIP password.
        password: String,
    },
    /// Change a setting of a SIP account (`acl=10.0.0.0/8`, `registration_check=1`,
    /// `max_expires=1800`, ...); an empty value goes back to the account template.
    SetAccount {
        /// SIP username.
        username: String,
        /// `field=value` pairs.
        settings: Vec<String>,
    },
    /// Change a setting of a user of the default tenant (`role=supervisor`, `privacy=1`,
    /// `cti_access=0`, ...).
    SetUser {
        /// Username.
        username: String,
        /// `field=value` pairs.
        settings: Vec<String>,
    },
    /// Set the licence seats the default tenant holds for a product (`cti_pro`, `cti_phone`,
    /// `call_center`); users get them with `set-user NAME cti_licence=pro|phone|free` and
    /// `call_center_licence=1|0`.
    SetSeats {
        /// Product.
        product: String,
        /// Number of seats.
        seats: i64,
    },
    /// Set a user's password (read from the first line of standard input).
    SetPassword {
        /// Username (e.g. `admin`).
        username: String,
        /// Tenant domain.
        #[arg(long, default_value = "default")]
        domain: String,
    },
    /// Change a setting of an extension (`ring_timeout_s=5`, `overflow_noanswer=extension:202`,
    /// `busy_level=1`, ...); an empty value (`busy_level=`) goes back to the template.
    SetExtension {
        /// Extension number.
        number: String,
        /// `field=value` pairs.
        settings: Vec<String>,
    },
    /// Create or change a ring group: `name=Sales`, `enabled=1`, `overflow=extension:202`
    /// or `overflow=hangup`.
    SetRingGroup {
        /// Group number.
        number: String,
        /// `field=value` pairs.
        settings: Vec<String>,
    },
    /// Put an extension in a tier of a ring group (or move it to another tier).
    SetRingGroupMember {
        /// Group number.
        group: String,
        /// Extension number.
        extension: String,
        /// Tier (1 rings first).
        #[arg(long, default_value_t = 1)]
        tier: i64,
        /// Seconds the tier rings.
        #[arg(long, default_value_t = 20)]
        ring_s: i64,
    },
    /// Replace the pickup groups of an extension: `--member office,sales` (its ringing calls
    /// may be picked up by those groups) and `--picker office` (it may pick up their calls
    /// with `*9`); an empty list clears.
    SetPickupGroups {
        /// Extension number.
        extension: String,
        /// Groups it is a member of (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "")]
        member: Vec<String>,
        /// Groups it may pick up from (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "")]
        picker: Vec<String>,
    },
    /// Change the code of a numbering-plan service (`park 888`, `cfim_on 811`, ...).
    SetFeatureCode {
        /// Service name.
        service: String,
        /// The new code.
        code: String,
    },
    /// Create or change a queue of the default tenant (`strategy=leastrecent`,
    /// `ring_timeout_s=15`, `retry_s=5`, `wrapup_s=20`, `max_wait_s=120`, `max_callers=0`,
    /// `autopause=1`, `overflow=extension:202`, `join_empty=paused,unavailable`, ...); a
    /// running PBX reads queues at start (`/rest/queue` changes them live).
    SetQueue {
        /// Queue number.
        number: String,
        /// `field=value` pairs.
        settings: Vec<String>,
    },
    /// Make an extension a configured member of a queue with a penalty (appended to the ring
    /// order when new), or remove it with `--remove`.
    SetQueueMember {
        /// Queue number.
        queue: String,
        /// Extension number.
        extension: String,
        /// Lower rings first.
        #[arg(default_value_t = 0)]
        penalty: i64,
        /// Remove the member instead.
        #[arg(long)]
        remove: bool,
    },
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(pbx_server::cli::dispatch(
        cli.data_dir,
        cli.database_url,
        cli.cmd.into(),
    )) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

impl From<Cmd> for pbx_server::cli::Command {
    fn from(c: Cmd) -> Self {
        use pbx_server::cli::Command;
        match c {
            Cmd::Run {
                bind,
                advertise,
                sip_port,
                http_port,
                https_port,
                tls_cert,
                tls_key,
                cti_port,
                cti_tls_port,
                cti_replay_events,
                qualify_interval,
                park_timeout_s,
                rtp_min,
                rtp_max,
                demo,
                digest_sha256,
                ui_dir,
            } => Command::Run(Box::new(Settings {
                data_dir: PathBuf::new(),
                database_url: None,
                bind,
                advertised: advertise,
                sip_port,
                http_port,
                // Tests ask for any HTTP port; a fixed HTTPS default would collide there.
                https_port: https_port.unwrap_or(if http_port == 0 { 0 } else { 8443 }),
                tls_cert,
                tls_key,
                cti_port,
                cti_tls_port: cti_tls_port.unwrap_or(if cti_port == 0 { 0 } else { 5040 }),
                cti_replay_events,
                qualify_s: qualify_interval,
                park_timeout_s,
                rtp_min,
                rtp_max,
                demo,
                digest_sha256,
                ui_dir,
            })),
            Cmd::Cdr { json, last } => Command::Cdr { json, last },
            Cmd::Locations => Command::Locations,
            Cmd::SetExtension { number, settings } => Command::SetExtension { number, settings },
            Cmd::SeedDemo => Command::SeedDemo,
            Cmd::SetRingGroup { number, settings } => Command::SetRingGroup { number, settings },
            Cmd::SetRingGroupMember {
                group,
                extension,
                tier,
                ring_s,
            } => Command::SetRingGroupMember {
                group,
                extension,
                tier,
                ring_s,
            },
            Cmd::SetFeatureCode { service, code } => Command::SetFeatureCode { service, code },
            Cmd::SetQueue { number, settings } => Command::SetQueue { number, settings },
            Cmd::SetQueueMember {
                queue,
                extension,
                penalty,
                remove,
            } => Command::SetQueueMember {
                queue,
                extension,
                penalty: (!remove).then_some(penalty),
            },
            Cmd::SetPickupGroups {
                extension,
                member,
                picker,
            } => Command::SetPickupGroups {
                extension,
                member: member.into_iter().filter(|g| !g.is_empty()).collect(),
                picker: picker.into_iter().filter(|g| !g.is_empty()).collect(),
            },
            Cmd::SetPassword { username, domain } => Command::SetPassword { username, domain },
            Cmd::SetSeats { product, seats } => Command::SetSeats { product, seats },
            Cmd::SetUser { username, settings } => Command::SetUser { username, settings },
            Cmd::SetAccount { username, settings } => Command::SetAccount { username, settings },
            Cmd::AddAccount {
                extension,
                username,
                password,
            } => Command::AddAccount {
                extension,
                username,
                password,
            },
        }
    }
}
