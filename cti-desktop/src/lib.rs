//! The desktop app's logic, apart from its window: the CTI relay that carries the web UI's
//! frames through cti-core, the automatic actions on calls and the local HTTP API. The Tauri
//! binary (`main.rs`) only wires these to the window; everything here runs without a display,
//! so the end-to-end tests drive it against a real pbx-server.

pub mod actions;
pub mod local_api;
pub mod notify;
pub mod settings;

use actions::{Action, ActionError, ActionSettings, CallFacts, CallWatcher, Trigger};
use cti_core::relay::RelayHandle;
use cti_core::{Listener, LiveState, Update};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};

/// Starts an action; replaceable so that a caller can observe (the tray, tests).
pub type Launcher = dyn Fn(&Action, &CallFacts) -> Result<(), ActionError> + Send + Sync;

/// Told of every call trigger.
pub type Observer = dyn Fn(Trigger, &CallFacts) + Send + Sync;

/// Hears every CTI change, fires the automatic actions, and tells an observer (the window)
/// about each call trigger.
pub struct ActionRunner {
    watcher: Mutex<CallWatcher>,
    settings: Arc<RwLock<ActionSettings>>,
    launcher: Box<Launcher>,
    observer: Option<Box<Observer>>,
}

impl ActionRunner {
    /// A runner over `settings` that starts actions with [`actions::launch`].
    pub fn new(settings: Arc<RwLock<ActionSettings>>) -> ActionRunner {
        ActionRunner {
            watcher: Mutex::new(CallWatcher::new()),
            settings,
            launcher: Box::new(actions::launch),
            observer: None,
        }
    }

    /// Told of every trigger, in scope or not (notifications use it).
    pub fn with_observer(
        mut self,
        f: impl Fn(Trigger, &CallFacts) + Send + Sync + 'static,
    ) -> Self {
        self.observer = Some(Box::new(f));
        self
    }
}

impl Listener for ActionRunner {
    fn on_update(&self, update: &Update, state: &LiveState) {
        let fired = match self.watcher.lock() {
            Ok(mut w) => w.on_update(update, state),
            Err(_) => return,
        };
        if fired.is_empty() {
            return;
        }
        let settings = self.settings.read().map(|s| s.clone()).unwrap_or_default();
        for (trigger, facts) in fired {
            if let Some(f) = &self.observer {
                f(trigger, &facts);
            }
            for action in settings.matching(trigger, &facts) {
                match (self.launcher)(action, &facts) {
                    Ok(()) => {
                        tracing::info!(?trigger, call = %facts.uid, template = %action.template, "action started")
                    }
                    Err(e) => {
                        tracing::warn!(?trigger, call = %facts.uid, error = %e, "action failed")
                    }
                }
            }
        }
    }
}

/// The running desktop logic.
pub struct Desktop {
    /// The CTI relay the window's transport and the local API share.
    pub relay: RelayHandle,
    /// Where the local API listens, when it does.
    pub api_addr: Option<SocketAddr>,
    /// The automatic actions, changeable while running.
    pub actions: Arc<RwLock<ActionSettings>>,
}

impl Desktop {
    /// Starts the relay (with the action runner) and the local API, on the current runtime.
    /// A local API that cannot bind its port is logged and left off; the app works without it.
    pub async fn start(settings: &settings::Settings, runner: Option<ActionRunner>) -> Desktop {
        let actions = Arc::new(RwLock::new(settings.actions.clone()));
        let runner = runner.unwrap_or_else(|| ActionRunner::new(actions.clone()));
        let actions = runner.settings.clone();
        let relay = RelayHandle::start(Arc::new(runner));
        let mut api_addr = None;
        if settings.api.enabled {
            match tokio::net::TcpListener::bind(("127.0.0.1", settings.api.port)).await {
                Ok(l) => {
                    api_addr = l.local_addr().ok();
                    tokio::spawn(local_api::serve(
                        l,
                        settings.api.token.clone(),
                        relay.clone(),
                    ));
                    tracing::info!(addr = ?api_addr, "local API listening");
                }
                Err(e) => {
                    tracing::warn!(port = settings.api.port, error = %e, "local API not started")
                }
            }
        }
        Desktop {
            relay,
            api_addr,
            actions,
        }
    }
}
