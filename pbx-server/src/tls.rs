//! TLS for the HTTP port (web, REST) and, through [`server_config`], for any other TLS
//! listener of the server (CTI). rustls with the `ring` provider.
//!
//! The certificate is, in order: the PEM pair given by `--tls-cert`/`--tls-key`; the pair
//! under `<data dir>/tls/`; or a self-signed one generated on first start (ECDSA P-256,
//! names `localhost`, `127.0.0.1`, `::1` and the advertised address) and stored there, so
//! clients that pin it keep working across restarts.

use crate::config::Settings;
use anyhow::Context;
use axum::serve::{Listener, ListenerExt};
use axum::Router;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Where a generated certificate is kept, relative to the data dir.
pub const GENERATED_CERT: &str = "tls/cert.pem";
/// Where its private key is kept (mode 0600), relative to the data dir.
pub const GENERATED_KEY: &str = "tls/key.pem";
/// A client has this long to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; more connections wait in the kernel's accept queue,
/// so a flood of half-open handshakes cannot exhaust memory.
const MAX_HANDSHAKES: usize = 256;
/// Finished handshakes waiting for the HTTP server to pick them up.
const READY_QUEUE: usize = 64;

/// Which certificate files to use: the configured pair, or the data dir's (generated when
/// missing).
pub fn cert_paths(settings: &Settings) -> anyhow::Result<(PathBuf, PathBuf)> {
    match (&settings.tls_cert, &settings.tls_key) {
        (Some(c), Some(k)) => Ok((c.clone(), k.clone())),
        (None, None) => Ok((
            settings.data_dir.join(GENERATED_CERT),
            settings.data_dir.join(GENERATED_KEY),
        )),
        _ => anyhow::bail!("--tls-cert and --tls-key go together"),
    }
}

/// The TLS server configuration of this server (no ALPN: each listener adds its own).
/// Generates and stores a self-signed certificate when none is configured or stored.
pub fn server_config(settings: &Settings) -> anyhow::Result<Arc<ServerConfig>> {
    let (cert, key) = cert_paths(settings)?;
    let configured = settings.tls_cert.is_some();
    if !configured && !cert.exists() && !key.exists() {
        let mut names = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ];
        let advertised = settings.advertised_ip().to_string();
        if !names.contains(&advertised) {
            names.push(advertised);
        }
        generate(&cert, &key, names)?;
    }
    load(&cert, &key)
}

/// Reads a PEM certificate chain and private key into a server configuration.
pub fn load(cert: &Path, key: &Path) -> anyhow::Result<Arc<ServerConfig>> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading TLS certificate {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing TLS certificate {}", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!("no certificate in {}", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading TLS private key {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("TLS certificate and key do not form a usable pair")?;
    Ok(Arc::new(config))
}

/// Generates a self-signed certificate for `names` and writes the PEM pair (the key 0600).
pub fn generate(cert: &Path, key: &Path, names: Vec<String>) -> anyhow::Result<()> {
    let mut params = rcgen::CertificateParams::new(names.clone()).context("certificate names")?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Centralino PBX (self-signed)");
    let signing_key = rcgen::KeyPair::generate().context("generating a TLS key")?;
    let generated = params
        .self_signed(&signing_key)
        .context("self-signing the certificate")?;
    if let Some(dir) = cert.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    write_private(key, signing_key.serialize_pem().as_bytes())?;
    std::fs::write(cert, generated.pem()).with_context(|| format!("writing {}", cert.display()))?;
    tracing::info!(
        cert = %cert.display(),
        names = ?names,
        "generated a self-signed TLS certificate"
    );
    Ok(())
}

fn write_private(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(data)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Serves `app` over TLS on `listener` until `shutdown`. Handshakes run in their own tasks
/// (bounded, with a timeout), so a slow client never holds up the others.
pub async fn serve_https(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    app: Router,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut config = (*config).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let local = listener.local_addr()?;
    let (tx, rx) = mpsc::channel(READY_QUEUE);
    tokio::spawn(handshakes(listener, acceptor, tx, shutdown.clone()));
    let incoming = Handshaked { rx, local }.tap_io(|_| {});
    let mut stop = shutdown;
    axum::serve(
        incoming,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stop.changed().await;
    })
    .await
}

/// Accepts TCP connections and hands each finished TLS handshake to the HTTP server.
async fn handshakes(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "https accept failed");
                // Out of descriptors and the like: do not spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = ready.send((tls, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(error = %e, src = %peer, "tls handshake failed"),
                Err(_) => tracing::debug!(src = %peer, "tls handshake timed out"),
            }
        });
    }
}

/// Finished TLS connections, as an axum [`Listener`].
struct Handshaked {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl Listener for Handshaked {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The acceptor stopped (shutdown): no more connections, ever.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_certificate_loads_and_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join(GENERATED_CERT);
        let key = dir.path().join(GENERATED_KEY);
        generate(&cert, &key, vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        let pem = std::fs::read_to_string(&cert).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the key is private");
        }
        load(&cert, &key).unwrap();
    }

    #[test]
    fn a_key_that_is_not_pem_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        let key = dir.path().join("k.pem");
        generate(&cert, &key, vec!["localhost".into()]).unwrap();
        std::fs::write(&key, "not a key").unwrap();
        let e = load(&cert, &key).unwrap_err();
        assert!(format!("{e:#}").contains("private key"), "{e:#}");
    }
}
