//! The softphone: a sans-IO SIP user agent ([`ua::UserAgent`]) and, around it and the media,
//! the tokio driver.
pub mod call;
mod invite;
pub mod register;
pub mod ua;

pub use call::{CallId, CallState, EndReason, Party};
pub use register::{RegisterError, RegistrationState};
pub use ua::{Account, CallError, CallInfo, UaConfig, UaEvent, UserAgent};

#[cfg(test)]
mod tests;
