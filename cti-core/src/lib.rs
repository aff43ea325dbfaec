//! The Centralino client engine, shared by the desktop app, the mobile bindings and the tests.
//!
//! The CTI part is split as matrix-sdk splits base and client: [`session::Session`] is a
//! sans-IO state machine (feed it "connected", frames and "disconnected"; ask it what to send
//! and what changed), and [`client::Client`] is the tokio task around it that connects over
//! TCP or WebSocket, logs in, resumes with the last `seq` after every disconnect (exponential
//! back-off with jitter) and answers commands. Nothing from the network panics: unreadable
//! frames are skipped and logged.

pub mod client;
pub mod media;
pub mod phone;
pub mod relay;
pub mod session;
pub mod state;

pub use client::{Client, Config, Listener, Server};
pub use session::{CommandError, CommandOutcome, Credentials, Phase, Session, Update};
pub use state::LiveState;
