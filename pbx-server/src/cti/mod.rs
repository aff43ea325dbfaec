//! The CTI server: the live state model, the hub that streams it to logged-in clients,
//! their connections (WebSocket at `/cti` on the HTTP port, newline-delimited JSON over TCP),
//! logins and commands. The protocol is `shared-protocol`; the reference is
//! `docs/cti-protocol.md`.

pub mod commands;
pub mod conn;
pub mod hub;
pub mod listen;
pub mod login;
pub mod model;
pub mod view;

pub use hub::Hub;
