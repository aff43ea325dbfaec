//! The softphone: a sans-IO SIP user agent ([`ua::UserAgent`]) and, around it and the media,
//! the tokio driver ([`driver::Phone`]).
pub mod call;
pub mod driver;
mod invite;
mod media_task;
pub mod register;
pub mod transfer;
pub mod ua;

pub use call::{CallId, CallState, EndReason, Party};
pub use driver::{Phone, PhoneConfig, PhoneError, PhoneEvent, PhoneListener};
pub use register::{RegisterError, RegistrationState};
pub use transfer::TransferState;
pub use ua::{Account, CallError, CallInfo, UaConfig, UaEvent, UserAgent};

#[cfg(test)]
mod tests;
