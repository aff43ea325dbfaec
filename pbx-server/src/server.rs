//! Starting the whole PBX: store, crash recovery, demo data, SIP, media, HTTP.

use crate::calls::dialog::Local;
use crate::calls::Engine;
use crate::config::Settings;
use crate::core::{db_writer, wall_ms, Core, CoreMetrics};
use crate::directory::Directory;
use crate::guard::Guard;
use crate::http::{self, HttpState, StatusSnapshot};
use crate::media::{MediaMetrics, PortPool};
use crate::sip_io;
use crate::store::Store;
use sip_core::transaction::{Endpoint, EndpointConfig};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};

/// Addresses the server ended up listening on (ports may have been 0).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    /// SIP (UDP and TCP).
    pub sip: SocketAddr,
    /// HTTP.
    pub http: SocketAddr,
    /// CTI over TCP.
    pub cti: SocketAddr,
    /// HTTPS (the HTTP routes over TLS).
    pub https: SocketAddr,
    /// CTI over TLS.
    pub cti_tls: SocketAddr,
}

/// The runtime relay tasks run on: its own thread, so thousands of RTP wake-ups per second
/// never queue in front of SIP signalling. It lives as long as the process (a runtime must not
/// be dropped from async code, and the PBX has no use for a second one).
fn media_runtime() -> std::io::Result<tokio::runtime::Handle> {
    static MEDIA: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    if let Some(rt) = MEDIA.get() {
        return Ok(rt.handle().clone());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("media")
        .enable_all()
        .build()?;
    Ok(MEDIA.get_or_init(|| rt).handle().clone())
}

/// Opens the store, closes calls a crash left open, seeds the demo data if asked.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    std::fs::create_dir_all(&settings.data_dir)?;
    let store = Store::connect(&settings.database_url()).await?;
    if settings.demo {
        store.seed_demo().await?;
    }
    store.ensure_predefined_users().await?;
    if !settings.demo {
        for u in store.users_on_default_password().await? {
            tracing::warn!(
                "{u} still has the factory password: the REST API refuses it until it is changed \
                 (pbx-server set-password, or PUT /rest/me/password)"
            );
        }
    }
    let closed = store.cdr_recover_open(wall_ms()).await?;
    if closed > 0 {
        tracing::warn!(closed, "closed call records left open by a previous run");
    }
    Ok(store)
}

/// The engine with the tenant's call center: queues, members, open pauses and today's
/// statistics rebuilt from the call records (docs/decisions/010-call-center.md).
async fn engine_with_call_center(
    store: &Store,
    mut engine: Engine,
    tenant: &str,
) -> anyhow::Result<Engine> {
    let now = wall_ms();
    let (day, _) = crate::callcenter::local_day(now);
    let data = store.load_call_center(tenant, day).await?;
    tracing::info!(
        queues = data.queues.len(),
        groups = data.groups.len(),
        "call center loaded"
    );
    let cc = crate::callcenter::CallCenter::from_store(&data, now, now as u64 | 1);
    engine.set_call_center(
        cc,
        crate::calls::FeatureCodes::with_overrides(&data.feature_codes),
    );
    engine.set_ring_groups(crate::calls::RingGroup::from_rows(&data.groups));
    engine.set_hold_music(hold_music(&data.queues));
    Ok(engine)
}

/// The audio each queue plays to waiting callers: the bundled melody for `tone`, the file's
/// samples for `wav:<path>` (8 kHz mono 16-bit; a file that cannot be used falls back to the
/// melody, with a warning); queues with `ringback` are absent.
pub(crate) fn hold_music(
    queues: &[crate::store::QueueRow],
) -> std::collections::HashMap<String, Arc<Vec<i16>>> {
    let bundled = Arc::new(media_core::music::bundled_music());
    let mut out = std::collections::HashMap::new();
    for q in queues {
        let samples = if q.music == "tone" {
            bundled.clone()
        } else if let Some(path) = q.music.strip_prefix("wav:") {
            let read = std::fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|b| media_core::wav::read_wav(&b).map_err(|e| e.to_string()))
                .and_then(|w| {
                    if w.sample_rate == 8_000 && !w.samples.is_empty() {
                        Ok(w.samples)
                    } else {
                        Err(format!(
                            "{} Hz, {} samples: 8000 Hz audio needed",
                            w.sample_rate,
                            w.samples.len()
                        ))
                    }
                });
            match read {
                Ok(s) => Arc::new(s),
                Err(e) => {
                    tracing::warn!(queue = %q.number, path, error = %e, "queue music file unusable; playing the bundled melody");
                    bundled.clone()
                }
            }
        } else {
            continue;
        };
        out.insert(q.number.clone(), samples);
    }
    out
}

/// Starts every part; returns the bound addresses and a future that runs until `shutdown`.
pub async fn start(
    settings: Settings,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<(Bound, tokio::task::JoinHandle<()>)> {
    let store = open_store(&settings).await?;
    let loaded = store.load_directory().await?;
    let tenant = loaded
        .tenant_domain
        .clone()
        .unwrap_or_else(|| "default".to_string());
    let locations = store.load_locations(wall_ms()).await?;
    let cdr_seq = store.cdr_count().await?.max(0) as u64;
    // One tenant's configuration: the core runs the default tenant (the REST API reloads it).
    let dir = Directory::from_store(store.load_directory_of(&tenant).await?, locations);
    tracing::info!(registered = dir.registered(), "locations restored");

    let (sender, inbound, sip_addr) =
        sip_io::start(SocketAddr::new(settings.bind, settings.sip_port)).await?;
    let media_metrics = Arc::new(MediaMetrics::default());
    let mut ports = PortPool::new(
        settings.bind,
        settings.rtp_min,
        settings.rtp_max,
        media_metrics.clone(),
        media_runtime()?,
    );
    let (digits_tx, digits_rx) = mpsc::unbounded_channel();
    ports.report_digits(digits_tx);
    let local = Local {
        ip: settings.advertised_ip(),
        port: sip_addr.port(),
    };
    let (db_tx, db_rx) = mpsc::unbounded_channel();
    let db_task = tokio::spawn(db_writer(store.clone(), db_rx));
    let metrics = Arc::new(CoreMetrics::default());
    let status = Arc::new(Mutex::new(StatusSnapshot::default()));
    let (bus_tx, bus_rx) = mpsc::unbounded_channel();
    let (control_tx, control_rx) = mpsc::channel(1024);
    let core = Core {
        ep: Endpoint::new(EndpointConfig::default()),
        dir,
        guard: Guard::new(&tenant, settings.digest_sha256),
        engine: {
            let mut engine = engine_with_call_center(
                &store,
                Engine::new(local, &tenant, ports, cdr_seq),
                &tenant,
            )
            .await?;
            engine.set_park_timeout(std::time::Duration::from_secs(
                settings.park_timeout_s.max(1),
            ));
            engine
        },
        sender,
        db: db_tx,
        metrics: metrics.clone(),
        status: status.clone(),
        tenant: tenant.clone(),
        local,
        qualify: crate::qualify::Qualifier::new(Some(std::time::Duration::from_secs(
            settings.qualify_s,
        ))),
        lamps: crate::lamps::LampModel::new(),
        blf: crate::blf::Blf::new(local, &tenant, crate::blf::Limits::default()),
        bus: bus_tx,
    };
    let handle = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            core.run(inbound, control_rx, digits_rx, shutdown).await;
            // The core dropped its sender: the writer drains what is queued, then ends.
            let _ = db_task.await;
        }
    });
    // The hub asks the running core for its state, then follows the bus.
    let hub = crate::cti::Hub::start(
        store.clone(),
        control_tx.clone(),
        bus_rx,
        settings.cti_replay_events,
    )
    .await?;
    let cti_listener =
        tokio::net::TcpListener::bind(SocketAddr::new(settings.bind, settings.cti_port)).await?;
    let cti_addr = cti_listener.local_addr()?;
    tokio::spawn(crate::cti::listen::serve_tcp(
        cti_listener,
        hub.clone(),
        None,
        shutdown.clone(),
    ));
    let tls_config = crate::tls::server_config(&settings)?;
    let cti_tls_listener =
        tokio::net::TcpListener::bind(SocketAddr::new(settings.bind, settings.cti_tls_port))
            .await?;
    let cti_tls_addr = cti_tls_listener.local_addr()?;
    tokio::spawn(crate::cti::listen::serve_tcp(
        cti_tls_listener,
        hub.clone(),
        Some(tokio_rustls::TlsAcceptor::from(tls_config.clone())),
        shutdown.clone(),
    ));

    let listener =
        tokio::net::TcpListener::bind(SocketAddr::new(settings.bind, settings.http_port)).await?;
    let http_addr = listener.local_addr()?;
    let https_listener =
        tokio::net::TcpListener::bind(SocketAddr::new(settings.bind, settings.https_port)).await?;
    let https_addr = https_listener.local_addr()?;
    let app = http::router(HttpState {
        core: metrics,
        media: media_metrics,
        status,
        rest: crate::rest::RestState::new(store.clone(), settings.demo)
            .with_core(&tenant, control_tx),
        ui: crate::webui::WebUi::locate(settings.ui_dir.as_deref()),
    })
    .merge(crate::cti::listen::router(hub));
    tokio::spawn({
        let (app, shutdown) = (app.clone(), shutdown.clone());
        async move {
            if let Err(e) = crate::tls::serve_https(https_listener, tls_config, app, shutdown).await
            {
                tracing::error!(error = %e, "https server failed");
            }
        }
    });
    let mut http_shutdown = shutdown.clone();
    tokio::spawn(async move {
        let serve = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = http_shutdown.changed().await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "http server failed");
        }
    });
    Ok((
        Bound {
            sip: sip_addr,
            http: http_addr,
            cti: cti_addr,
            cti_tls: cti_tls_addr,
            https: https_addr,
        },
        handle,
    ))
}
