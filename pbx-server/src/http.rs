//! The HTTP port: WebCTI (the built web UI, see `webui`) at `/`, a status page at
//! `/status`, health and metrics, the REST API under `/rest` (described at `/api/doc.json`).
//! Without a built UI, `/` shows the status page.

use crate::core::CoreMetrics;
use crate::media::MediaMetrics;
use axum::extract::State;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// One extension line of the status page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExtensionStatus {
    /// Number.
    pub number: String,
    /// Display name.
    pub name: String,
    /// Registered devices (`user@ip:port`).
    pub devices: Vec<String>,
}

/// What the status page shows, refreshed by the core every second.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StatusSnapshot {
    /// Extensions.
    pub extensions: Vec<ExtensionStatus>,
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct HttpState {
    /// SIP core counters.
    pub core: Arc<CoreMetrics>,
    /// Media counters.
    pub media: Arc<MediaMetrics>,
    /// Status snapshot.
    pub status: Arc<Mutex<StatusSnapshot>>,
    /// The REST API under `/rest`.
    pub rest: crate::rest::RestState,
    /// The built web UI (WebCTI), served at `/`.
    pub ui: crate::webui::WebUi,
}

/// The router.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/status", get(index))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .nest("/rest", crate::rest::router(state.rest.clone()))
        .nest("/api/pbx/v2", crate::rest::v2_router(state.rest.clone()))
        .merge(crate::rest::openapi::router())
        .fallback(get(ui_file))
        .with_state(state)
}

async fn root(state: State<HttpState>) -> axum::response::Response {
    if state.ui.is_present() {
        state.ui.serve("/").await
    } else {
        index(state).await.into_response()
    }
}

async fn ui_file(State(s): State<HttpState>, uri: axum::http::Uri) -> axum::response::Response {
    s.ui.serve(uri.path()).await
}

async fn metrics(State(s): State<HttpState>) -> impl IntoResponse {
    Json(serde_json::json!({
        "registered": s.core.registered.load(Ordering::Relaxed),
        "active_calls": s.core.active_calls.load(Ordering::Relaxed),
        "sip_received": s.core.received.load(Ordering::Relaxed),
        "sip_malformed": s.core.malformed.load(Ordering::Relaxed),
        "rtp_packets_relayed": s.media.packets.load(Ordering::Relaxed),
        "rtp_bytes_relayed": s.media.bytes.load(Ordering::Relaxed),
        "relays_active": s.media.active.load(Ordering::Relaxed),
    }))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn index(State(s): State<HttpState>) -> Html<String> {
    let snap = s.status.lock().map(|g| g.clone()).unwrap_or_default();
    let mut rows = String::new();
    for e in &snap.extensions {
        let state = if e.devices.is_empty() {
            "unavailable"
        } else {
            "registered"
        };
        rows.push_str(&format!(
            "<tr class=\"{state}\"><td>{}</td><td>{}</td><td>{state}</td><td>{}</td></tr>",
            escape(&e.number),
            escape(&e.name),
            escape(&e.devices.join(", "))
        ));
    }
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Centralino</title>\
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.3em 1em;text-align:left}}\
.registered td:nth-child(3){{color:#080}}.unavailable td:nth-child(3){{color:#999}}</style></head>\
<body><h1>Centralino PBX</h1><p>Active calls: {} · Registered devices: {} · RTP packets relayed: {}</p>\
<table><tr><th>Extension</th><th>Name</th><th>State</th><th>Devices</th></tr>{rows}</table>\
<p>This page shows the PBX core; the CTI web interface is at <a href=\"/\">/</a> when built.</p></body></html>",
        s.core.active_calls.load(Ordering::Relaxed),
        s.core.registered.load(Ordering::Relaxed),
        s.media.packets.load(Ordering::Relaxed),
    ))
}
