//! CTI commands: arguments and permissions checked here, then carried out by the SIP core
//! (call control, services), the hub (presence) or the store (history).

use super::hub::Hub;
use super::view::{history_entry, Viewer};
use crate::control::{CallOp, CallOpError, CallOpOk, Control, QueueOp, ServiceChange};
use shared_protocol::{Command, CommandData, CommandId, CtiMode, ErrorCode, ServerMsg};
use tokio::sync::oneshot;

/// A command's failure: code and message.
type Failure = (ErrorCode, String);

fn fail(code: ErrorCode, message: impl Into<String>) -> Failure {
    (code, message.into())
}

/// Runs one command and builds its `result` or `error` frame.
pub async fn run(hub: &Hub, viewer: &Viewer, id: CommandId, command: Command) -> ServerMsg {
    match execute(hub, viewer, command).await {
        Ok(data) => ServerMsg::Result { id, data },
        Err((code, message)) => ServerMsg::error(Some(id), code, message),
    }
}

/// Digits, `*`, `#` and a leading `+`: what a dial string may hold.
fn valid_number(n: &str) -> bool {
    let body = n.strip_prefix('+').unwrap_or(n);
    !body.is_empty()
        && body.len() <= 32
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
}

fn own_extension(viewer: &Viewer) -> Result<String, Failure> {
    viewer.extension.clone().ok_or_else(|| {
        fail(
            ErrorCode::PermissionDenied,
            "your user has no extension; ask an administrator to link one",
        )
    })
}

/// The extension a call-control command acts for: the user's own, which must be a party.
fn acting_party(hub: &Hub, viewer: &Viewer, call: &str) -> Result<String, Failure> {
    let parties = hub
        .call_parties(&viewer.tenant, call)
        .ok_or_else(|| fail(ErrorCode::NotFound, format!("no call {call}")))?;
    let own = viewer.extension.as_deref();
    match own {
        Some(e) if parties.iter().any(|p| p == e) => Ok(e.to_string()),
        _ => Err(fail(
            ErrorCode::PermissionDenied,
            "you may only control calls of your own extension",
        )),
    }
}

/// The extension a service command changes: the user's own unless a supervisor names another.
fn service_target(
    hub: &Hub,
    viewer: &Viewer,
    extension: Option<String>,
) -> Result<String, Failure> {
    let target = match extension {
        Some(e) => e,
        None => own_extension(viewer)?,
    };
    if viewer.extension.as_deref() != Some(target.as_str()) && !viewer.permissions.supervisor {
        return Err(fail(
            ErrorCode::PermissionDenied,
            "only supervisors may change another extension's services",
        ));
    }
    if !hub.has_extension(&viewer.tenant, &target) {
        return Err(fail(ErrorCode::NotFound, format!("no extension {target}")));
    }
    Ok(target)
}

/// The Pro feature a command is, if it is one (decision 014: what each mode includes).
fn pro_feature(command: &Command) -> Option<&'static str> {
    Some(match command {
        Command::Hold { .. } => "hold",
        Command::Resume { .. } => "resume",
        Command::Transfer {
            consult: Some(_), ..
        } => "attended transfer",
        Command::Transfer { .. } => "blind transfer",
        Command::Pickup { .. } => "call pickup",
        Command::SetDnd { .. } => "do not disturb",
        Command::SetForward { .. } => "call forwarding",
        _ => return None,
    })
}

async fn execute(
    hub: &Hub,
    viewer: &Viewer,
    command: Command,
) -> Result<Option<CommandData>, Failure> {
    if let Some(feature) = pro_feature(&command) {
        if viewer.licence.mode < CtiMode::Pro {
            return Err(fail(
                ErrorCode::NotLicensed,
                format!("{feature} needs a Pro or Phone seat; your user has none (Free mode)"),
            ));
        }
    }
    match command {
        Command::Dial { number } => {
            if !viewer.permissions.call_control {
                return Err(fail(
                    ErrorCode::PermissionDenied,
                    "call control is not allowed",
                ));
            }
            let by = own_extension(viewer)?;
            if !valid_number(&number) {
                return Err(fail(
                    ErrorCode::BadArguments,
                    "number: digits, *, # and a leading + only",
                ));
            }
            call_op(hub, viewer, CallOp::Dial { by, number }).await
        }
        Command::Hangup { call } => {
            let allowed =
                viewer.permissions.supervisor && hub.call_parties(&viewer.tenant, &call).is_some();
            if !allowed {
                acting_party(hub, viewer, &call)?;
            }
            call_op(hub, viewer, CallOp::Hangup { call }).await
        }
        Command::Hold { call } => {
            let by = acting_party(hub, viewer, &call)?;
            call_op(hub, viewer, CallOp::Hold { call, by }).await
        }
        Command::Resume { call } => {
            let by = acting_party(hub, viewer, &call)?;
            call_op(hub, viewer, CallOp::Resume { call, by }).await
        }
        Command::Transfer {
            call,
            number,
            consult,
        } => {
            let op = match (number, consult) {
                (Some(target), None) => {
                    if !valid_number(&target) {
                        return Err(fail(
                            ErrorCode::BadArguments,
                            "number: digits, *, # and a leading + only",
                        ));
                    }
                    let by = acting_party(hub, viewer, &call)?;
                    CallOp::BlindTransfer { call, by, target }
                }
                (None, Some(consult)) => {
                    if consult == call {
                        return Err(fail(
                            ErrorCode::BadArguments,
                            "consult must be another call",
                        ));
                    }
                    let by = acting_party(hub, viewer, &call)?;
                    if acting_party(hub, viewer, &consult)? != by {
                        return Err(fail(
                            ErrorCode::PermissionDenied,
                            "both calls must be yours",
                        ));
                    }
                    CallOp::AttendedTransfer { call, consult, by }
                }
                _ => {
                    return Err(fail(
                        ErrorCode::BadArguments,
                        "give exactly one of number (blind) or consult (attended)",
                    ))
                }
            };
            call_op(hub, viewer, op).await
        }
        Command::Pickup { extension } => {
            if !viewer.permissions.call_control {
                return Err(fail(
                    ErrorCode::PermissionDenied,
                    "call control is not allowed",
                ));
            }
            let by = own_extension(viewer)?;
            if !hub.has_extension(&viewer.tenant, &extension) {
                return Err(fail(
                    ErrorCode::NotFound,
                    format!("no extension {extension}"),
                ));
            }
            call_op(
                hub,
                viewer,
                CallOp::Pickup {
                    by,
                    ringing: extension,
                },
            )
            .await
        }
        Command::SetDnd { extension, enabled } => {
            let ext = service_target(hub, viewer, extension)?;
            set_service(hub, viewer, ext, ServiceChange::Dnd(enabled)).await
        }
        Command::SetForward {
            extension,
            kind,
            target,
        } => {
            if let Some(t) = &target {
                if !valid_number(t) {
                    return Err(fail(
                        ErrorCode::BadArguments,
                        "target: digits, *, # and a leading + only",
                    ));
                }
            }
            let ext = service_target(hub, viewer, extension)?;
            set_service(hub, viewer, ext, ServiceChange::Forward(kind, target)).await
        }
        Command::SetPresence { state, message } => {
            let ext = own_extension(viewer)?;
            if message.as_ref().is_some_and(|m| m.chars().count() > 200) {
                return Err(fail(
                    ErrorCode::BadArguments,
                    "message: at most 200 characters",
                ));
            }
            hub.set_presence(viewer, &ext, state, message);
            Ok(None)
        }
        Command::History {
            before_ms,
            limit,
            missed_only,
        } => {
            let ext = own_extension(viewer)?;
            let limit = limit.unwrap_or(50);
            if !(1..=200).contains(&limit) {
                return Err(fail(ErrorCode::BadArguments, "limit: 1 to 200"));
            }
            let mut records = hub
                .store
                .cdr_history(
                    &viewer.tenant,
                    &ext,
                    before_ms,
                    i64::from(limit),
                    missed_only,
                )
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "history query failed");
                    fail(ErrorCode::Internal, "history is unavailable; try again")
                })?;
            // Records just closed may still be on their way to the database.
            for r in hub.recent_records(&viewer.tenant, &ext) {
                let in_page = before_ms.is_none_or(|b| r.start_ms < b);
                if in_page && !records.iter().any(|x| x.unique_id == r.unique_id) {
                    records.push((*r).clone());
                }
            }
            records.sort_by(|a, b| {
                b.start_ms
                    .cmp(&a.start_ms)
                    .then_with(|| b.unique_id.cmp(&a.unique_id))
            });
            let mut entries: Vec<_> = records
                .iter()
                .filter_map(|r| history_entry(r, &ext).map(|h| (r.start_ms, h)))
                .filter(|(_, h)| !missed_only || h.missed)
                .collect();
            entries.truncate(limit as usize);
            let next_before_ms = (entries.len() == limit as usize)
                .then(|| entries.last().map(|(start, _)| *start))
                .flatten();
            let entries = entries.into_iter().map(|(_, h)| h).collect();
            Ok(Some(CommandData::History {
                entries: hub.mask_history(viewer, entries),
                next_before_ms,
            }))
        }
        Command::QueueLogin {
            queue,
            extension,
            penalty,
        } => {
            let extension = agent_target(hub, viewer, extension)?;
            let penalty = penalty.unwrap_or(0);
            queue_op(
                hub,
                viewer,
                QueueOp::Login {
                    extension,
                    queue,
                    penalty,
                },
            )
            .await
        }
        Command::QueueLogout { queue, extension } => {
            let extension = agent_target(hub, viewer, extension)?;
            queue_op(hub, viewer, QueueOp::Logout { extension, queue }).await
        }
        Command::QueuePause {
            queue,
            extension,
            reason,
        } => {
            if reason.as_ref().is_some_and(|r| r.chars().count() > 64) {
                return Err(fail(
                    ErrorCode::BadArguments,
                    "reason: at most 64 characters",
                ));
            }
            let extension = agent_target(hub, viewer, extension)?;
            let reason = reason.filter(|r| !r.trim().is_empty());
            queue_op(
                hub,
                viewer,
                QueueOp::Pause {
                    extension,
                    queue,
                    reason,
                },
            )
            .await
        }
        Command::QueueResume { queue, extension } => {
            let extension = agent_target(hub, viewer, extension)?;
            queue_op(hub, viewer, QueueOp::Resume { extension, queue }).await
        }
    }
}

/// The agent a queue command acts on: the user's own extension, or (supervisors) any.
fn agent_target(hub: &Hub, viewer: &Viewer, extension: Option<String>) -> Result<String, Failure> {
    let target = match extension {
        Some(e) => e,
        None => own_extension(viewer)?,
    };
    if viewer.extension.as_deref() != Some(target.as_str()) && !viewer.permissions.supervisor {
        return Err(fail(
            ErrorCode::PermissionDenied,
            "agents act on themselves; only supervisors act on other agents",
        ));
    }
    if !hub.has_extension(&viewer.tenant, &target) {
        return Err(fail(ErrorCode::NotFound, format!("no extension {target}")));
    }
    Ok(target)
}

async fn queue_op(hub: &Hub, viewer: &Viewer, op: QueueOp) -> Result<Option<CommandData>, Failure> {
    let (reply, rx) = oneshot::channel();
    hub.control
        .send(Control::Queue {
            tenant: viewer.tenant.clone(),
            op,
            reply,
        })
        .await
        .map_err(|_| core_gone())?;
    rx.await.map_err(|_| core_gone())?.map_err(op_failure)?;
    Ok(None)
}

fn op_failure(e: CallOpError) -> Failure {
    let code = match &e {
        CallOpError::NotFound(_) => ErrorCode::NotFound,
        CallOpError::InvalidState(_) => ErrorCode::InvalidState,
        CallOpError::NoDevice(_) => ErrorCode::NoDevice,
        CallOpError::BadArguments(_) => ErrorCode::BadArguments,
        CallOpError::NotAParty(_) => ErrorCode::PermissionDenied,
    };
    fail(code, e.to_string())
}

fn core_gone() -> Failure {
    fail(
        ErrorCode::Internal,
        "the call engine is not answering; nothing was changed",
    )
}

async fn call_op(hub: &Hub, viewer: &Viewer, op: CallOp) -> Result<Option<CommandData>, Failure> {
    let (reply, rx) = oneshot::channel();
    hub.control
        .send(Control::Call {
            tenant: viewer.tenant.clone(),
            op,
            reply,
        })
        .await
        .map_err(|_| core_gone())?;
    match rx.await.map_err(|_| core_gone())? {
        Ok(CallOpOk::Done) => Ok(None),
        Ok(CallOpOk::Call(call)) => Ok(Some(CommandData::Call { call })),
        Err(e) => Err(op_failure(e)),
    }
}

async fn set_service(
    hub: &Hub,
    viewer: &Viewer,
    extension: String,
    change: ServiceChange,
) -> Result<Option<CommandData>, Failure> {
    let (reply, rx) = oneshot::channel();
    hub.control
        .send(Control::SetService {
            tenant: viewer.tenant.clone(),
            extension,
            change,
            reply,
        })
        .await
        .map_err(|_| core_gone())?;
    rx.await.map_err(|_| core_gone())?.map_err(op_failure)?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::valid_number;

    #[test]
    fn dial_strings() {
        assert!(valid_number("202"));
        assert!(valid_number("+390612345678"));
        assert!(valid_number("*81"));
        assert!(!valid_number(""));
        assert!(!valid_number("+"));
        assert!(!valid_number("20 2"));
        assert!(!valid_number("sip:202@x"));
    }
}
