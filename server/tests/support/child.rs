//! The `tabibu` binary as a child process, started the way an operator starts it: for tests
//! of what only a whole process shows (signals, `kill -9`, namespaces, exporters).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use super::call_at;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The fixed data key of the test servers.
pub const TEST_KEY: &str = "dGFiaWJ1LXRlc3Qta2V5LW5vdC1mb3ItcHJvZCEhISE=";

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A folder of the test's own, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let path = std::env::temp_dir().join(format!("tabibu-{label}-{id}"));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// The `tabibu` binary serving on a free port, as an operator starts it.
pub struct Tabibu {
    pub base: String,
    pub child: Child,
    log: PathBuf,
    pub client: reqwest::Client,
}

impl Tabibu {
    /// Starts `tabibu serve` with the database `database_url`, documents in `documents` and the
    /// rest of its files in `dir`; `wrapper` runs before it (a command that ends in `exec`).
    pub async fn start(
        dir: &Path,
        database_url: &str,
        documents: &Path,
        extra: &[(&str, &str)],
        wrapper: &[&str],
    ) -> Tabibu {
        let site = dir.join("site");
        std::fs::create_dir_all(site.join("pkg")).unwrap();
        let port = free_port();
        let log = dir.join(format!("tabibu-{port}.log"));
        let binary = env!("CARGO_BIN_EXE_tabibu");
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        command
            .arg("serve")
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", database_url)
            .env("LEPTOS_SITE_ROOT", &site)
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("TABIBU_DOCUMENTS_DIR", documents)
            .env("TABIBU_DATA_KEY", TEST_KEY)
            .env("TABIBU_RATE_LIMIT_PER_SECOND", "100000")
            .env("TABIBU_RATE_LIMIT_API_PER_SECOND", "100000")
            .env("TABIBU_SIGN_IN_ATTEMPTS_PER_MINUTE", "1000")
            .env("TABIBU_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.join(format!("stderr-{port}.log"))).unwrap());
        for (name, value) in extra {
            command.env(name, value);
        }
        let child = command.spawn().expect("the tabibu binary starts");
        let mut server = Tabibu {
            base: format!("http://127.0.0.1:{port}"),
            child,
            log,
            client: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = server.client.get(server.url("/health")).send().await
                && response.status() == 200
            {
                break;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("tabibu exited at start ({status}): {}", server.output(dir));
            }
            assert!(Instant::now() < deadline, "tabibu did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// What the process printed, for a failure message.
    pub fn output(&self, dir: &Path) -> String {
        let mut text = std::fs::read_to_string(&self.log).unwrap_or_default();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            if entry.file_name().to_string_lossy().starts_with("stderr-") {
                text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
        text
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits up to `limit` for the process to end.
    pub async fn exited_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    pub async fn upload(&self, session: &str, bytes: Vec<u8>) -> (u16, serde_json::Value) {
        let response = self
            .client
            .post(self.url("/api/documents"))
            .header("cookie", format!("tabibu_session={session}"))
            .header("x-filename", "scan.png")
            .body(bytes)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    pub async fn documents(&self, session: &str) -> Vec<serde_json::Value> {
        let list = call_at(
            &self.client,
            &self.base,
            "/api/documents/list",
            &[],
            Some(session),
        )
        .await;
        assert_eq!(list.status, 200, "{}", list.text);
        list.json["documents"].as_array().unwrap().clone()
    }

    pub async fn download(&self, session: &str, id: &str) -> (u16, Vec<u8>) {
        let response = self
            .client
            .get(self.url(&format!("/api/documents/{id}?download=1")))
            .header("cookie", format!("tabibu_session={session}"))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.bytes().await.unwrap().to_vec())
    }
}

impl Drop for Tabibu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
