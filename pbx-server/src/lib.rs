//! Centralino PBX server: config store, registrar, B2BUA call engine with anchored media,
//! CDR writer, HTTP status.
//!
//! Layers, top to bottom: `cli`/`server` start things; `core` is the one task that owns
//! the SIP transaction endpoint, the `directory`, the `registrar` and the `calls` engine;
//! `sip_io` and `media` are thin tokio shells around sockets; `store` is the database.

pub mod blf;
pub mod callcenter;
pub mod calls;
pub mod cli;
pub mod config;
pub mod control;
pub mod core;
pub mod cti;
pub mod directory;
pub mod guard;
pub mod http;
pub mod lamps;
pub mod media;
pub mod qualify;
pub mod registrar;
pub mod rest;
pub mod server;
pub mod sip_io;
pub mod store;
pub mod tls;
pub mod webui;

/// Our User-Agent / Server header.
pub const USER_AGENT: &str = concat!("Centralino/", env!("CARGO_PKG_VERSION"));
