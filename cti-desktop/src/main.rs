//! The Centralino desktop app: the web UI (`ui/dist`) in a Tauri window. The UI's CTI link
//! runs through the Rust relay (`cti_open` / `cti_send` / `cti_close` and a channel of frames),
//! so the local HTTP API and the automatic actions see the same session.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use cti_core::relay::{ConnId, FrameSink};
use cti_core::Server;
use cti_desktop::notify::{self, CallStatus, DbusNotifier, Lang};
use cti_desktop::settings::Settings;
use cti_desktop::{ActionRunner, Desktop};
use serde::Serialize;
use std::sync::{Arc, RwLock};
use tauri::ipc::Channel;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::Manager;

/// What the UI's transport hears about its connection.
#[derive(Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum LinkEvent {
    Open,
    Frame { text: String },
    Close { was_open: bool, reason: String },
}

struct ChannelSink(Channel<LinkEvent>);

impl FrameSink for ChannelSink {
    fn opened(&self) {
        let _ = self.0.send(LinkEvent::Open);
    }
    fn frame(&self, text: String) {
        let _ = self.0.send(LinkEvent::Frame { text });
    }
    fn closed(&self, was_open: bool, reason: String) {
        let _ = self.0.send(LinkEvent::Close { was_open, reason });
    }
}

/// Opens a CTI connection for the UI; frames come back on `events`.
#[tauri::command]
async fn cti_open(
    desktop: tauri::State<'_, Desktop>,
    url: String,
    events: Channel<LinkEvent>,
) -> Result<ConnId, String> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("ws://") || lower.starts_with("wss://")) {
        return Err(format!("not a CTI WebSocket address: {url}"));
    }
    Ok(desktop
        .relay
        .open(Server::WebSocket(url), Arc::new(ChannelSink(events)))
        .await)
}

/// One frame from the UI for connection `conn`.
#[tauri::command]
async fn cti_send(
    desktop: tauri::State<'_, Desktop>,
    conn: ConnId,
    frame: String,
) -> Result<(), String> {
    desktop.relay.send(conn, frame).await;
    Ok(())
}

/// Closes connection `conn`.
#[tauri::command]
async fn cti_close(desktop: tauri::State<'_, Desktop>, conn: ConnId) -> Result<(), String> {
    desktop.relay.close(conn).await;
    Ok(())
}

/// What the UI shows about the desktop side (settings page, diagnostics).
#[derive(Serialize)]
struct DesktopInfo {
    version: &'static str,
    api_address: Option<String>,
    settings_file: String,
}

#[tauri::command]
fn desktop_info(desktop: tauri::State<'_, Desktop>, app: tauri::AppHandle) -> DesktopInfo {
    DesktopInfo {
        version: env!("CARGO_PKG_VERSION"),
        api_address: desktop.api_addr.map(|a| format!("http://{a}/api/v1")),
        settings_file: app
            .path()
            .app_config_dir()
            .map(|d| Settings::file(&d).display().to_string())
            .unwrap_or_default(),
    }
}

/// The tray icon: the user's call status in its tooltip, a menu to show the window or quit.
fn tray(app: &tauri::App, lang: Lang) -> tauri::Result<TrayIcon> {
    let (show, quit) = match lang {
        Lang::It => ("Mostra Centralino", "Esci"),
        Lang::En => ("Show Centralino", "Quit"),
    };
    let show = MenuItem::with_id(app, "show", show, true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", quit, true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&show, &quit])?;
    let mut builder = TrayIconBuilder::with_id("main")
        .tooltip(status_text(lang, CallStatus::Idle))
        .menu(&menu)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "show" => {
                if let Some(w) = app.get_webview_window("main") {
                    let _ = w.show();
                    let _ = w.unminimize();
                    let _ = w.set_focus();
                }
            }
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)
}

fn status_text(lang: Lang, status: CallStatus) -> &'static str {
    match (lang, status) {
        (Lang::En, CallStatus::Idle) => "Centralino",
        (Lang::En, CallStatus::Ringing) => "Centralino: a call is ringing",
        (Lang::En, CallStatus::InCall) => "Centralino: in a call",
        (Lang::It, CallStatus::Idle) => "Centralino",
        (Lang::It, CallStatus::Ringing) => "Centralino: chiamata in arrivo",
        (Lang::It, CallStatus::InCall) => "Centralino: in chiamata",
    }
}

/// The UI is on screen (start-up time in bench/ counts to here).
#[tauri::command]
fn ui_ready() {
    tracing::info!(target: "cti_desktop::startup", "ui ready");
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let result = tauri::Builder::default()
        .setup(|app| {
            let dir = match std::env::var_os("CENTRALINO_DESKTOP_CONFIG_DIR") {
                Some(d) => std::path::PathBuf::from(d),
                None => app.path().app_config_dir()?,
            };
            let settings = match Settings::load(&dir) {
                Ok(s) => s,
                Err(e) => {
                    // A broken file must not keep the app from starting; say so and go on
                    // with the defaults (the file is left for the user to fix).
                    tracing::error!(error = %e, "settings not read; using the defaults");
                    Settings::default()
                }
            };
            let lang = Lang::from_env();
            // A desktop without a tray (no status notifier host) still runs the app.
            let tray = match tray(app, lang) {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!(error = %e, "no tray icon");
                    None
                }
            };
            let mut runner = ActionRunner::new(Arc::new(RwLock::new(settings.actions.clone())));
            if settings.notifications.enabled {
                let sink = Arc::new(DbusNotifier::start());
                runner = runner.with_observer(notify::observer(lang, sink, move |status| {
                    if let Some(t) = &tray {
                        let _ = t.set_tooltip(Some(status_text(lang, status)));
                    }
                }));
            }
            let desktop = tauri::async_runtime::block_on(Desktop::start(&settings, Some(runner)));
            app.manage(desktop);
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            cti_open,
            cti_send,
            cti_close,
            desktop_info,
            ui_ready
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        tracing::error!(error = %e, "the app stopped with an error");
        std::process::exit(1);
    }
}
