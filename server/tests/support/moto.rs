//! A real S3-compatible server for the tests: moto's server (`python3 -m moto.server`, from
//! PyPI `moto[server]`; `deploy/dev/test.sh` installs it), one per test binary on a free port,
//! with a bucket of its own for each test. Where moto is missing the S3 tests are skipped with
//! a printed notice, unless `CI` is set: there its absence fails them.
//!
//! The Python is `TABIBU_TEST_MOTO_PYTHON`, else the virtual environment `deploy/dev/lib.sh`
//! makes, else `python3`. moto runs under a small shell that ends it when this process's end
//! of its standard input closes, so no server outlives the test binary.

use std::io::Read;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// moto accepts any credentials; these only have to look like some.
pub const ACCESS_KEY_ID: &str = "AKIATABIBUTEST000000";
pub const SECRET_ACCESS_KEY: &str = "tabibu-test-secret-access-key-not-real";

/// The running moto server of this test binary.
pub struct Moto {
    pub endpoint: String,
    /// Kept open: moto stops when it closes.
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

fn python() -> String {
    if let Ok(python) = std::env::var("TABIBU_TEST_MOTO_PYTHON") {
        return python;
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let cache = std::env::var("XDG_CACHE_HOME").unwrap_or_else(|_| format!("{home}/.cache"));
    let venv = format!("{cache}/tabibu/moto-venv/bin/python3");
    if std::path::Path::new(&venv).exists() {
        venv
    } else {
        "python3".to_owned()
    }
}

fn installed(python: &str) -> bool {
    Command::new(python)
        .args(["-c", "import moto.server"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The shared moto server, started on first use; `None` (after a notice) when moto is not
/// installed outside CI.
pub fn moto() -> Option<&'static Moto> {
    static MOTO: OnceLock<Option<Moto>> = OnceLock::new();
    MOTO.get_or_init(|| {
        let python = python();
        if !installed(&python) {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI needs moto for the S3 tests: {python} -m pip install 'moto[server]' \
                 (deploy/dev/test.sh does it)"
            );
            eprintln!(
                "NOTICE: moto is not installed ({python} cannot import moto.server); SKIPPING \
                 the S3 storage tests. `bash deploy/dev/test.sh` installs it."
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = format!(
            "\"$0\" -m moto.server -H 127.0.0.1 -p {port} >/dev/null 2>&1 & pid=$!; \
             cat >/dev/null; kill $pid"
        );
        let mut child = Command::new("sh")
            .args(["-c", &script, &python])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto starts");
        let stdin = child.stdin.take().unwrap();
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                use std::io::Write;
                let _ = stream.write_all(b"GET / HTTP/1.0\r\n\r\n");
                let mut answer = [0u8; 12];
                if stream.read_exact(&mut answer).is_ok() && answer.starts_with(b"HTTP/") {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "moto did not start within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(Moto {
            endpoint,
            _stdin: Mutex::new(stdin),
            _child: Mutex::new(child),
        })
    })
    .as_ref()
}

impl Moto {
    /// Creates a new, empty bucket and returns its name.
    pub async fn bucket(&self) -> String {
        let name = format!("tabibu-{}", uuid::Uuid::new_v4().simple());
        let response = reqwest::Client::new()
            .put(format!("{}/{name}", self.endpoint))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "creating the bucket");
        name
    }

    /// The settings that point Tabibu at `bucket` under `prefix`.
    pub fn vars<'a>(&'a self, bucket: &'a str, prefix: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("TABIBU_DOCUMENTS_STORE", "s3"),
            ("TABIBU_S3_ENDPOINT", self.endpoint.as_str()),
            ("TABIBU_S3_BUCKET", bucket),
            ("TABIBU_S3_REGION", "us-east-1"),
            ("TABIBU_S3_PREFIX", prefix),
            ("TABIBU_S3_ACCESS_KEY_ID", ACCESS_KEY_ID),
            ("TABIBU_S3_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
        ]
    }

    async fn xml(&self, path_and_query: &str) -> String {
        let response = reqwest::Client::new()
            .get(format!("{}{path_and_query}", self.endpoint))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "GET {path_and_query}");
        response.text().await.unwrap()
    }

    /// The names of every object in `bucket`, sorted.
    pub async fn objects(&self, bucket: &str) -> Vec<String> {
        let text = self.xml(&format!("/{bucket}?list-type=2")).await;
        let mut keys = elements(&text, "Key");
        keys.sort();
        keys
    }

    /// The object names of multipart uploads begun and neither completed nor aborted.
    pub async fn unfinished_uploads(&self, bucket: &str) -> Vec<String> {
        let text = self.xml(&format!("/{bucket}?uploads")).await;
        text.split("<Upload>")
            .skip(1)
            .flat_map(|upload| elements(upload, "Key").into_iter().take(1))
            .collect()
    }

    /// Waits (up to 10 s) until `bucket` has no unfinished multipart upload: an abort runs
    /// in a task of its own after the request has ended.
    pub async fn assert_no_unfinished_uploads(&self, bucket: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = self.unfinished_uploads(bucket).await;
            if left.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "multipart uploads left unfinished: {left:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The text of every `<tag>…</tag>` in `xml`.
fn elements(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split_once(&close).map(|(text, _)| text.to_owned()))
        .collect()
}
