//! What the benchmarks share: the built `tabibu` binary started as a child process on a free
//! port with a fresh SQLite database, its memory read from `/proc`, and accounts made the way
//! an operator and a patient make them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `tabibu serve` child process; killed (and its folder removed) when dropped.
pub struct ChildServer {
    pub base: String,
    pub pid: u32,
    child: Child,
    temp: PathBuf,
    env: Vec<(String, String)>,
}

impl ChildServer {
    /// Starts the server with `extra` settings and waits until `/health` answers.
    pub async fn start(name: &str, extra: &[(&str, &str)]) -> ChildServer {
        let temp = std::env::temp_dir().join(format!("tabibu-{name}-{}", std::process::id()));
        std::fs::create_dir_all(temp.join("site/pkg")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut env: Vec<(String, String)> = vec![
            (
                "DATABASE_URL".into(),
                format!("sqlite://{}/tabibu.db", temp.display()),
            ),
            (
                "LEPTOS_SITE_ROOT".into(),
                temp.join("site").display().to_string(),
            ),
            ("LEPTOS_SITE_ADDR".into(), format!("127.0.0.1:{port}")),
            // In the run's own folder on either database (on PostgreSQL the default would be
            // `data/documents` under the working directory).
            (
                "TABIBU_DOCUMENTS_DIR".into(),
                temp.join("documents").display().to_string(),
            ),
            (
                "TABIBU_DATA_KEY".into(),
                "dGFiaWJ1LXRlc3Qta2V5LW5vdC1mb3ItcHJvZCEhISE=".into(),
            ),
            ("TABIBU_RATE_LIMIT_PER_SECOND".into(), "100000".into()),
            ("TABIBU_RATE_LIMIT_API_PER_SECOND".into(), "100000".into()),
            ("TABIBU_SIGN_IN_ATTEMPTS_PER_MINUTE".into(), "1000".into()),
            ("TABIBU_LOG".into(), "error".into()),
        ];
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let child = Command::new(env!("CARGO_BIN_EXE_tabibu"))
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .spawn()
            .expect("the tabibu binary starts");
        let server = ChildServer {
            base: format!("http://127.0.0.1:{port}"),
            pid: child.id(),
            child,
            temp,
            env,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while client
            .get(format!("{}/health", server.base))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "the server did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }

    /// A field of `/proc/<pid>/status` in bytes (`VmRSS`, `VmHWM`).
    pub fn status_bytes(&self, field: &str) -> u64 {
        self.try_status_bytes(field).unwrap()
    }

    /// Like [`ChildServer::status_bytes`]; `None` once the process has gone.
    pub fn try_status_bytes(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kb| kb * 1024)
    }

    /// How many files and sockets the process holds open; `None` once it has gone.
    pub fn open_files(&self) -> Option<usize> {
        Some(
            std::fs::read_dir(format!("/proc/{}/fd", self.pid))
                .ok()?
                .count(),
        )
    }

    /// The value of a setting the server was started with (the last one given wins).
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Makes an account on the command line, as an operator would, with `password`.
    pub fn create_user(&self, email: &str, role: &str, password: &str) {
        let mut cli = Command::new(env!("CARGO_BIN_EXE_tabibu"))
            .args(["admin", "create-user", "--email", email, "--role", role])
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        writeln!(cli.stdin.take().unwrap(), "{password}").unwrap();
        assert!(cli.wait().unwrap().success(), "create-user failed");
    }

    /// Signs in and returns the session token.
    pub async fn sign_in(&self, client: &reqwest::Client, email: &str, password: &str) -> String {
        let reply = client
            .post(format!("{}/api/accounts/sign_in", self.base))
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .unwrap();
        session_of(&reply)
    }

    /// Signs a new patient up and returns the session token.
    pub async fn sign_up(&self, client: &reqwest::Client, email: &str, password: &str) -> String {
        let reply = client
            .post(format!("{}/api/accounts/sign_up", self.base))
            .form(&[
                ("email", email),
                ("password", password),
                ("name", "Bench Patient"),
                ("date_of_birth", "1990-04-12"),
            ])
            .send()
            .await
            .unwrap();
        session_of(&reply)
    }
}

fn session_of(reply: &reqwest::Response) -> String {
    reply
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("tabibu_session="))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
        .expect("a session cookie")
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::remove_dir_all(&self.temp).ok();
    }
}

/// The value at `q` (0..=1) of sorted `values`.
/// Splits an event stream's bytes into the `data:` payloads of its lines, however the chunks
/// happen to cut them (a line, or a character, may arrive in two chunks).
#[derive(Default)]
pub struct SseData {
    pending: Vec<u8>,
}

impl SseData {
    /// Takes the next chunk; the payload of each line it completed, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(chunk);
        let mut payloads = Vec::new();
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            if let Some(data) = line.strip_prefix("data: ") {
                payloads.push(data.trim().to_owned());
            }
        }
        payloads
    }
}

pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
