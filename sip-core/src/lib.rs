//! SIP layer of Centralino: message model, sans-IO transactions, digest auth, SDP.
//!
//! Everything here is a state machine fed with bytes and time: the [`transaction::Endpoint`]
//! never reads a clock or owns a socket, so tests drive it in virtual time and the PBX and
//! the softphone wrap it in thin tokio tasks. Errors are typed per layer; nothing that comes
//! from the network panics.
pub mod auth;
pub mod msg;
pub mod sdp;
pub mod transaction;
pub mod transport;

pub use msg::{MessageExt, Method, Request, Response, SipMessage};
pub use transport::{Peer, Transport};

/// Methods the PBX answers; used in `Allow` headers.
pub const ALLOW: &str =
    "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REGISTER, SUBSCRIBE, NOTIFY, REFER";
