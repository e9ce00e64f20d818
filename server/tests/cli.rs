//! The `tabibu` binary as an operator meets it: bad configuration, an unreachable database, a
//! port in use, and shutdown on a signal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The binary, started in an empty folder so no developer's `.env` is read.
fn tabibu(args: &[&str], vars: &[(&str, &str)]) -> Command {
    let dir = std::env::temp_dir().join(format!("tabibu-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tabibu"));
    cmd.args(args)
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

#[test]
fn an_invalid_setting_stops_the_start_with_one_line_naming_it() {
    let out = tabibu(&["serve"], &[("TABIBU_ENV", "prod")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("TABIBU_ENV"), "{stderr}");
}

#[test]
fn an_unreachable_database_is_named_without_its_password() {
    let out = tabibu(
        &["check-config"],
        &[(
            "DATABASE_URL",
            "postgres://tabibu:hunter22secret@127.0.0.1:9/tabibu",
        )],
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stderr.contains(
            "could not connect to the database at postgres://tabibu:[redacted]@127.0.0.1:9/tabibu"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter22secret") && !stdout.contains("hunter22secret"));
}

#[test]
fn a_port_in_use_is_named_in_the_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = tabibu(
        &["serve"],
        &[
            ("LEPTOS_SITE_ADDR", &addr),
            ("DATABASE_URL", "sqlite://data/t.db"),
        ],
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
}

#[test]
fn migrate_creates_the_missing_data_folder_and_database() {
    let mut cmd = tabibu(&["migrate"], &[]);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = cmd.get_current_dir().unwrap();
    assert!(dir.join("data/tabibu.db").is_file());
}

#[test]
fn sigterm_stops_the_server_cleanly_with_exit_code_zero() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let mut child = tabibu(&["serve"], &[("LEPTOS_SITE_ADDR", &addr)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let waited = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0));
            break;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn audit_verify_passes_on_an_intact_log_and_fails_on_an_edited_one() {
    let mut create = tabibu(
        &[
            "admin",
            "create-user",
            "--email",
            "root@example.com",
            "--role",
            "admin",
        ],
        &[],
    );
    create
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let dir = create.get_current_dir().unwrap().to_path_buf();
    let mut child = create.spawn().unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"a sturdy admin passphrase\n")
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("with the password given"));

    let run_verify = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tabibu"));
        cmd.args(["audit", "verify"])
            .current_dir(&dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default());
        cmd.output().unwrap()
    };
    let ok = run_verify();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("audit log intact"));

    // Someone with write access to the file edits an entry (bypassing the append-only trigger).
    let db = dir.join("data/tabibu.db");
    let status = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3; c = sqlite3.connect('{}'); c.execute('DROP TRIGGER IF EXISTS audit_log_no_update'); \
             c.execute(\"UPDATE audit_log SET outcome = 'failure' WHERE seq = 1\"); c.commit()",
            db.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    let broken = run_verify();
    assert!(!broken.status.success());
    assert!(
        String::from_utf8_lossy(&broken.stderr).contains("BROKEN at entry #1"),
        "{}",
        String::from_utf8_lossy(&broken.stderr)
    );
}

#[test]
fn a_settings_file_named_with_env_file_is_read_and_a_missing_one_stops_the_start() {
    let mut cmd = tabibu(&["check-config"], &[]);
    let dir = cmd.get_current_dir().unwrap().to_path_buf();
    let file = dir.join("settings.env");
    std::fs::write(
        &file,
        "# as deploy.sh writes it\nTABIBU_EMERGENCY_NUMBER=1199\nDATABASE_URL=sqlite://elsewhere/t.db\n",
    )
    .unwrap();
    // A `.env` beside it is not read when a file is named.
    std::fs::write(dir.join(".env"), "TABIBU_EMERGENCY_NUMBER=7777\n").unwrap();
    let out = cmd
        .args(["--env-file", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("TABIBU_EMERGENCY_NUMBER=1199"), "{stdout}");
    assert!(dir.join("elsewhere/t.db").is_file());

    let missing = tabibu(
        &["--env-file", "/nonexistent/tabibu.env", "check-config"],
        &[],
    )
    .output()
    .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("/nonexistent/tabibu.env was not found"),
        "{stderr}"
    );
}
