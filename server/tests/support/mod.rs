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

    pub fn backend(&self) -> Backend {
        self.backend
    }
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
                    rt.block_on(async move {
                        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                            let _ = sqlx::query(&sql).execute(&mut conn).await;
                        }
                    });
                }
            })
            .join()
            .ok();
        }
    }
}

pub fn postgres_admin_url() -> String {
    std::env::var("TABIBU_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        let user = std::env::var("USER").unwrap_or_else(|_| "postgres".into());
        format!("postgres://{user}@127.0.0.1:5432/test")
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
    let site_root = temp.join("site");
    std::fs::create_dir_all(site_root.join("pkg")).unwrap();
    std::fs::write(
        site_root.join("favicon.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    )
    .unwrap();
    std::fs::write(site_root.join("pkg/tabibu.css"), "body{}").unwrap();

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

    let mut map: HashMap<String, String> = HashMap::new();
    map.insert("DATABASE_URL".into(), database_url);
    map.insert("LEPTOS_SITE_ROOT".into(), site_root.display().to_string());
    map.insert("LEPTOS_SITE_ADDR".into(), "127.0.0.1:0".into());
    map.insert("TABIBU_SHUTDOWN_TIMEOUT_SECS".into(), "2".into());
    for (k, v) in vars {
        map.insert((*k).into(), (*v).into());
    }
    let config = Config::from_lookup(|k| map.get(k).cloned()).expect("test config is valid");

    let state = tabibu_server::build_state(config)
        .await
        .expect("the app starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
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
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Some(TestApp {
        addr,
        base: format!("http://{addr}"),
        client,
        state,
        site_root,
        backend,
        db_name,
        stop: Some(stop),
        temp,
    })
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
