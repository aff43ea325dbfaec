//! The Centralino CTI protocol: typed, versioned JSON frames and the domain types every
//! client shows. No I/O: the server (`pbx-server`), the client engine (`cti-core`) and the
//! generated TypeScript types of `ui/` all come from here.
//!
//! One frame is one JSON object with a `type` field. Over TCP each frame is one line;
//! over WebSocket each frame is one text message. See `docs/cti-protocol.md`.

pub mod callcenter;
pub mod domain;
pub mod messages;

pub use callcenter::*;
pub use domain::*;
pub use messages::*;

/// Version of the protocol this crate speaks; sent in every snapshot. Bumped on any change a
/// client written for the previous version would misread.
pub const PROTOCOL_VERSION: u32 = 3;

/// Longest frame a peer accepts (bytes); longer frames are refused with `bad_request`.
pub const MAX_FRAME: usize = 64 * 1024;
