//! The one place the REST handlers talk to the SIP core: the same `Control` requests the CTI
//! commands send (call control, services), the directory reload after a configuration
//! change, and the core's current state (calls, services). Each waits for the core's answer.

use super::{ApiError, RestState};
use crate::control::{
    CallCenterReload, CallOp, CallOpError, CallOpOk, Control, CoreState, QueueOp, ServiceChange,
};
use shared_protocol::Services;
use tokio::sync::oneshot;

impl From<CallOpError> for ApiError {
    fn from(e: CallOpError) -> Self {
        match e {
            CallOpError::NotFound(what) => ApiError::NotFound(what),
            CallOpError::BadArguments(what) => ApiError::BadRequest(what),
            CallOpError::NotAParty(_) => ApiError::Forbidden,
            CallOpError::InvalidState(_) | CallOpError::NoDevice(_) => {
                ApiError::Conflict(e.to_string())
            }
        }
    }
}

fn core_gone() -> ApiError {
    tracing::error!("rest: the SIP core is not answering");
    ApiError::Unavailable
}

impl RestState {
    /// Whether the SIP core runs tenant `domain` (the others are configured only).
    pub(crate) fn serves(&self, domain: &str) -> bool {
        self.inner.core.get().is_some_and(|c| c.tenant == domain)
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Control,
    ) -> Result<T, ApiError> {
        let core = self.inner.core.get().ok_or_else(core_gone)?;
        let (tx, rx) = oneshot::channel();
        core.control.send(make(tx)).await.map_err(|_| core_gone())?;
        rx.await.map_err(|_| core_gone())
    }

    /// After a configuration change in tenant `domain`: the core loads it again, keeping the
    /// live registrations, then the call center's configuration (queues, ring groups, queue
    /// music), keeping its live state. Reloads run one at a time, so the last one sees every
    /// change.
    pub(crate) async fn reload(&self, domain: &str) -> Result<(), ApiError> {
        if !self.serves(domain) {
            return Ok(());
        }
        let _one = self.inner.reload.lock().await;
        let directory = Box::new(self.store().load_directory_of(domain).await?);
        let tenant = domain.to_string();
        self.ask(|reply| Control::ReloadDirectory {
            tenant,
            directory,
            reply,
        })
        .await??;
        let data = self.store().call_center_config(domain).await?;
        let queues = data.queues;
        // Music files are read off the async workers.
        let (queues, music) = tokio::task::spawn_blocking(move || {
            let music = crate::server::hold_music(&queues);
            (queues, music)
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "rest: reading queue music failed");
            ApiError::Internal
        })?;
        let reload = Box::new(CallCenterReload {
            queues: queues.iter().map(crate::callcenter::config_of).collect(),
            groups: crate::calls::RingGroup::from_rows(&data.groups),
            music,
        });
        let tenant = domain.to_string();
        self.ask(|reply| Control::ReloadCallCenter {
            tenant,
            reload,
            reply,
        })
        .await??;
        Ok(())
    }

    /// Changes one service of an extension; the services after the change.
    pub(crate) async fn set_service(
        &self,
        domain: &str,
        extension: &str,
        change: ServiceChange,
    ) -> Result<Services, ApiError> {
        let (tenant, extension) = (domain.to_string(), extension.to_string());
        Ok(self
            .ask(|reply| Control::SetService {
                tenant,
                extension,
                change,
                reply,
            })
            .await??)
    }

    /// A call-control operation.
    pub(crate) async fn call_op(&self, domain: &str, op: CallOp) -> Result<CallOpOk, ApiError> {
        let tenant = domain.to_string();
        Ok(self
            .ask(|reply| Control::Call { tenant, op, reply })
            .await??)
    }

    /// An agent operation on the call center (as the CTI's queue commands).
    pub(crate) async fn queue_op(&self, domain: &str, op: QueueOp) -> Result<(), ApiError> {
        let tenant = domain.to_string();
        Ok(self
            .ask(|reply| Control::Queue { tenant, op, reply })
            .await??)
    }

    /// What the core holds now (calls, services, lamps, registrations).
    pub(crate) async fn core_state(&self) -> Result<CoreState, ApiError> {
        self.ask(|reply| Control::State { reply }).await
    }
}
