//! Password hashing on one dedicated thread. Each argon2 run allocates a 19 MiB block; on the
//! blocking pool every thread kept its own copies resident (glibc arenas), so 100 logins left
//! the server at ~350 MiB. One thread reuses one arena, and logins queue behind each other
//! (argon2 is CPU-bound; running several at once on a small machine gains nothing).

use super::{Result, StoreError};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

type Job = Box<dyn FnOnce() + Send>;

fn worker() -> Option<mpsc::Sender<Job>> {
    static WORKER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let tx = WORKER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let spawned = std::thread::Builder::new()
            .name("argon2".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job();
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the password hashing thread");
        }
        Mutex::new(tx)
    });
    tx.lock().ok().map(|t| t.clone())
}

/// Runs `f` on the hashing thread and waits for its result without blocking the runtime.
pub(super) async fn run<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(f());
    });
    worker()
        .ok_or(StoreError::Hash)?
        .send(job)
        .map_err(|_| StoreError::Hash)?;
    rx.await.map_err(|_| StoreError::Hash)
}
