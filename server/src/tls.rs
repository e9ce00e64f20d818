//! HTTPS served by Tabibu itself, with rustls: the certificate and key come from files
//! (`TABIBU_TLS_CERT`, `TABIBU_TLS_KEY`) and are read again when they change, so a renewed
//! certificate is served without a restart; a file replaced with something unusable is
//! refused with an error in the log, and the current certificate stays. TLS 1.2 and 1.3 only,
//! with rustls' suites (ECDHE key exchange, AES-GCM or ChaCha20-Poly1305).
//!
//! Handshakes run in tasks of their own, so a slow or silent client never holds up the
//! others; finished connections are handed to axum through [`TlsListener`]. An optional
//! plain-HTTP listener ([`redirect_router`]) answers everything with a permanent redirect to
//! the HTTPS address, except ACME HTTP-01 challenge files, which it serves from a folder for
//! certbot's webroot mode.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::net::SocketAddr;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// The longest a client may take over its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Finished handshakes waiting for axum to take them.
const BACKLOG: usize = 256;

/// Why a certificate could not be used. Names the file, never its content.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the certificate file {path}: {cause}")]
    Certificate { path: PathBuf, cause: String },
    #[error("cannot read the private key file {path}: {cause}")]
    Key { path: PathBuf, cause: String },
    #[error("the private key does not belong to the certificate")]
    Mismatch,
    #[error("the private key is of a kind rustls cannot use: {0}")]
    KeyKind(String),
    #[error("TLS could not be set up: {0}")]
    Setup(String),
}

/// A marker in the request's extensions: this request came in over TLS (HSTS may be sent).
#[derive(Debug, Clone, Copy)]
pub struct ServedOverTls;

/// Reads a PEM certificate chain and its private key, and checks that they belong together.
pub fn load(cert: &FsPath, key: &FsPath) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| TlsError::Certificate {
            path: cert.to_owned(),
            cause: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Certificate {
            path: cert.to_owned(),
            cause: "no certificate in it".into(),
        });
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.to_owned(),
        cause: e.to_string(),
    })?;
    let provider = rustls::crypto::ring::default_provider();
    let certified = CertifiedKey::from_der(chain, private, &provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsError::Mismatch,
        other => TlsError::KeyKind(other.to_string()),
    })?;
    Ok(certified)
}

/// The certificate being served; replaced in place when the files change.
#[derive(Debug)]
pub struct CertStore {
    current: RwLock<Arc<CertifiedKey>>,
    cert: PathBuf,
    key: PathBuf,
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        )
    }
}

impl CertStore {
    /// Loads the files once; an error here stops the start, with the file named.
    pub fn open(cert: &FsPath, key: &FsPath) -> Result<Arc<CertStore>, TlsError> {
        let certified = load(cert, key)?;
        Ok(Arc::new(CertStore {
            current: RwLock::new(Arc::new(certified)),
            cert: cert.to_owned(),
            key: key.to_owned(),
        }))
    }

    /// The rustls configuration: TLS 1.3 and 1.2, HTTP/1.1.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::Setup(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        // Our order (rustls': the strongest suites first) wins over the client's.
        config.ignore_client_order = true;
        Ok(Arc::new(config))
    }

    /// Loads the files again; on failure the current certificate stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let certified = load(&self.cert, &self.key)?;
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(certified);
        Ok(())
    }

    /// Looks at the files every `every` and reloads when either changed, until the process
    /// ends. Certbot replaces both; a check that catches one written and not the other fails
    /// (the key does not match) and succeeds at the next change.
    pub fn watch(self: Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut seen = self.stamp();
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let now = self.stamp();
                if now == seen {
                    continue;
                }
                seen = now;
                match self.reload() {
                    Ok(()) => tracing::info!("TLS certificate reloaded"),
                    Err(err) => tracing::error!(
                        cause = %err,
                        "TLS certificate reload failed; still serving the previous certificate"
                    ),
                }
            }
        })
    }

    /// What the files look like now: modification time and size of each.
    fn stamp(&self) -> [(Option<SystemTime>, u64); 2] {
        let one =
            |p: &FsPath| std::fs::metadata(p).map_or((None, 0), |m| (m.modified().ok(), m.len()));
        [one(&self.cert), one(&self.key)]
    }
}

/// TLS connections whose handshake is done, for `axum::serve`.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Accepts on `tcp` and runs each handshake in a task of its own.
    pub fn new(
        tcp: TcpListener,
        config: Arc<rustls::ServerConfig>,
    ) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (tx, ready) = mpsc::channel(BACKLOG);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // Out of file descriptors and the like: wait a moment, go on.
                        tracing::warn!(cause = %err, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    return;
                }
                let acceptor = acceptor.clone();
                let ready = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = ready.send((tls, peer)).await;
                        }
                        // Scanners, plain HTTP on the TLS port, old clients: not worth a warning.
                        Ok(Err(err)) => tracing::debug!(cause = %err, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { ready, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accepting task only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// What the plain-HTTP listener needs.
#[derive(Debug, Clone)]
pub struct RedirectSettings {
    /// Where to send people: `TABIBU_PUBLIC_URL` (an `https://` address).
    pub https_base: String,
    /// certbot's webroot (`TABIBU_ACME_DIR`); challenge files are read from
    /// `<dir>/.well-known/acme-challenge/`.
    pub acme_dir: Option<PathBuf>,
}

/// The plain-HTTP side: ACME challenges, and a permanent redirect for everything else.
pub fn redirect_router(settings: RedirectSettings) -> axum::Router {
    axum::Router::new()
        .route(
            "/.well-known/acme-challenge/{token}",
            axum::routing::get(acme_challenge),
        )
        .fallback(redirect)
        .with_state(Arc::new(settings))
}

async fn redirect(State(settings): State<Arc<RedirectSettings>>, uri: Uri) -> Response {
    // The target is built from the configured address, never from the Host header, so the
    // redirect cannot be pointed elsewhere.
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let target = format!("{}{path}", settings.https_base);
    match HeaderValue::from_str(&target) {
        Ok(location) => {
            let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
            response.headers_mut().insert(header::LOCATION, location);
            response
        }
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

async fn acme_challenge(
    State(settings): State<Arc<RedirectSettings>>,
    Path(token): Path<String>,
) -> Response {
    let Some(dir) = &settings.acme_dir else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // Tokens are base64url; anything else could walk out of the folder.
    let ok = !token.is_empty()
        && token.len() <= 256
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return StatusCode::NOT_FOUND.into_response();
    }
    let file = dir.join(".well-known/acme-challenge").join(&token);
    match tokio::fs::read(&file).await {
        Ok(body) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}
