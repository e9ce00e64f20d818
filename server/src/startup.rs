//! Building the state and the router, and serving with graceful shutdown.

use crate::health;
use crate::middleware::{
    auth, client_ip, csrf, metrics, page_deadline, rate_limit, request_id, security_headers, trace,
};
use axum::Router;
use axum::routing::get;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tabibu_app::platform::keys::{DataKey, KeyError};
use tabibu_app::platform::rate_limit::RateLimiter;
use tabibu_app::platform::{AppState, Config, Db, DbError};
use tabibu_app::{App, shell};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;

/// Why the server could not start; `Display` is the one line the operator reads.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("the clinical knowledge base is invalid: {0}")]
    Knowledge(#[from] tabibu_ai::KbError),
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("the M-Pesa simulator could not start: {0}")]
    Payments(std::io::Error),
    #[error("the AI provider could not be set up: {0}")]
    AiProvider(tabibu_ai::providers::ProviderError),
    #[error("the email provider could not be set up: {0}")]
    EmailProvider(#[from] tabibu_app::notifications::providers::SetupError),
    #[error("the document store could not be set up: {0}")]
    Documents(tabibu_app::documents::storage::StorageError),
    #[error("cannot listen on {addr}: {source} (is another program using that port?)")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(std::io::Error),
}

/// Connects to the database, applies migrations, and assembles the shared state.
pub async fn build_state(config: Config) -> Result<AppState, StartupError> {
    let data_key = match &config.data_key {
        Some(encoded) => DataKey::from_base64(
            &config.data_key_id,
            secrecy::ExposeSecret::expose_secret(encoded),
        )?,
        None if config.is_production() => return Err(KeyError::MissingInProduction.into()),
        None => DataKey::development(&config.data_dir())?,
    };
    let previous_key = match (&config.data_key_previous, &config.data_key_previous_id) {
        (Some(encoded), Some(id)) => Some(Arc::new(DataKey::from_base64(
            id,
            secrecy::ExposeSecret::expose_secret(encoded),
        )?)),
        _ => None,
    };
    let knowledge = match &config.knowledge_dir {
        Some(dir) => tabibu_ai::KnowledgeBase::load_dir(dir)?,
        None => tabibu_ai::KnowledgeBase::load_default()?,
    };
    let metrics = Arc::new(tabibu_app::platform::metrics::Metrics::new());
    let ai_provider = tabibu_ai::providers::build_provider(&config.ai)
        .map_err(StartupError::AiProvider)?
        .map(|inner| {
            tabibu_app::platform::state::AiProvider(Arc::new(
                tabibu_app::platform::metrics::Measured {
                    inner,
                    metrics: metrics.clone(),
                },
            ))
        });
    let mailer =
        tabibu_app::notifications::delivery::Mailer::new(&config.email, &config.public_url)?;
    let documents = tabibu_app::documents::storage::Store::from_config(&config)
        .map_err(StartupError::Documents)?;
    let db = Db::connect(
        &config.database_url,
        &config.database_url_redacted(),
        config.db_max_connections,
    )
    .await?;
    db.migrate().await?;
    tabibu_app::platform::settings::get_or_init(
        &db,
        "installed_at_ms",
        &tabibu_app::platform::db::now_ms().to_string(),
    )
    .await?;
    // Temporary upload files a crash left behind (a day old: no upload takes that long).
    match tabibu_app::documents::service::sweep_stale_uploads(
        &documents,
        Duration::from_secs(86_400),
    )
    .await
    {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "removed temporary upload files left by a crash"),
        Err(err) => tracing::warn!(cause = %err, "could not sweep temporary upload files"),
    }
    let leptos_options = LeptosOptions::builder()
        .output_name("tabibu")
        .site_root(config.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.site_addr)
        .build();
    let payments = tabibu_app::payments::service::Payments::start(&config)
        .await
        .map_err(StartupError::Payments)?;
    let events = tabibu_app::events::hub::EventHub::start(db.clone(), config.events_poll)
        .await
        .map_err(|e| StartupError::Database(e.into()))?;
    Ok(AppState {
        events,
        payments,
        metrics,
        config: Arc::new(config),
        db,
        leptos_options,
        limiter: Arc::new(RateLimiter::new()),
        data_key: Arc::new(data_key),
        previous_key,
        triage: Arc::new(tabibu_ai::Engine::new(knowledge)),
        ai_provider,
        mailer: Arc::new(mailer),
        documents,
    })
}

/// The whole HTTP surface of Tabibu.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let context = leptos_context(state.clone());
    let cors = cors(&state.config);
    let headers = security_headers::SecurityHeaders {
        config: state.config.clone(),
    };
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(crate::metrics::scrape))
        .route("/api/records/fhir", get(tabibu_app::records::http::download))
        .route("/api/events", get(tabibu_app::events::http::stream))
        .route(
            "/api/cases/{id}/documents/{document_id}",
            get(tabibu_app::consultations::http::case_document),
        )
        .route(
            "/api/documents",
            axum::routing::post(tabibu_app::documents::http::upload).layer(
                // The handler counts the bytes itself as they stream; this only lifts axum's
                // 2 MB default for this one route.
                axum::extract::DefaultBodyLimit::max(upload_body_limit(&state.config)),
            ),
        )
        .route("/api/documents/{id}", get(tabibu_app::documents::http::view))
        .route(
            tabibu_app::payments::config::CALLBACK_PATH,
            axum::routing::post(tabibu_app::payments::http::callback),
        )
        .route(
            "/api/admin/payments.csv",
            get(tabibu_app::payments::http::export),
        )
        .route(
            "/api/assistant/messages",
            axum::routing::post(tabibu_app::assistant::http::post_message),
        )
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(
            context, shell,
        ))
        .with_state(state.clone())
        // Innermost first. Outermost last: the headers and the request id reach even panics,
        // refusals and 404s.
        .layer(axum::middleware::from_fn(page_deadline::bound_page_render))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::authenticate))
        .layer(axum::middleware::from_fn_with_state(state.clone(), csrf::protect))
        .layer(axum::middleware::from_fn_with_state(state.clone(), rate_limit::limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), client_ip::client_ip))
        .layer(axum::middleware::from_fn(trace::trace_request))
        .layer(axum::middleware::from_fn_with_state(
            state.metrics,
            metrics::record,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn(request_id::assign_request_id))
        .layer(axum::middleware::from_fn_with_state(headers, security_headers::add_security_headers))
        .layer(tower::util::option_layer(cors))
}

/// Lets the pages of the sites in `TABIBU_CORS_ORIGINS` call the API with the user's cookies;
/// `None` when the list is empty (only Tabibu's own pages, the browsers' default). Never `*`.
fn cors(config: &Config) -> Option<tower_http::cors::CorsLayer> {
    use http::{Method, header};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if config.cors_origins.is_empty() {
        return None;
    }
    let origins: Vec<http::HeaderValue> = config
        .cors_origins
        .iter()
        .filter_map(|o| http::HeaderValue::from_str(o).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_credentials(true)
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([
                header::CONTENT_TYPE,
                header::ACCEPT,
                http::HeaderName::from_static("last-event-id"),
            ])
            .max_age(Duration::from_secs(600)),
    )
}

/// The body limit of the upload route: the configured file limit, with room to spare so that
/// the handler's own check (with its clear message) is the one that answers.
fn upload_body_limit(config: &Config) -> usize {
    usize::try_from(config.max_upload_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(1024 * 1024)
}

/// What every page render and server function finds in its Leptos context.
fn leptos_context(state: AppState) -> impl Fn() + Clone + Send + Sync + 'static {
    move || {
        provide_context(state.config.public());
        if let Some(parts) = leptos::prelude::use_context::<http::request::Parts>()
            && let Some(nonce) = parts.extensions.get::<security_headers::CspNonce>()
        {
            provide_context(leptos::nonce::Nonce::from_value(nonce.0.as_str()));
        }
        provide_context(state.clone());
    }
}

/// A panic answers a plain 500 with a safe message; the panic's text stays out of the body.
fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> http::Response<String> {
    tracing::error!("a request handler panicked");
    let mut response =
        http::Response::new("{\"error\":\"something went wrong on our side\"}".to_owned());
    *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// Binds the configured address, naming it if that fails.
pub async fn bind(addr: std::net::SocketAddr) -> Result<TcpListener, StartupError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartupError::Bind { addr, source })
}

/// Serves until `shutdown` completes, then stops accepting and gives in-flight requests up to
/// `drain_timeout` to finish.
pub async fn serve<L>(
    listener: L,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain_timeout: Duration,
) -> Result<(), StartupError>
where
    L: axum::serve::Listener<Addr = std::net::SocketAddr>,
    std::net::SocketAddr:
        for<'a> axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
{
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections, draining in-flight requests");
        let _ = tx.send(());
    };
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(signal);
    let deadline = async move {
        if rx.await.is_ok() {
            tokio::time::sleep(drain_timeout).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => result.map_err(StartupError::Serve),
        () = deadline => {
            tracing::warn!(timeout_secs = drain_timeout.as_secs(), "drain timeout reached; closing remaining connections");
            Ok(())
        }
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C). The handlers are installed when this is called,
/// not when the future is first polled, so call it before anything slow at start-up: a signal
/// that arrives in between is then a clean shutdown instead of an abrupt death.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(term) => {},
                () = wait(int) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
