//! Certificates for tests of the HTTPS listener, made by the `openssl` command line: a test
//! certificate authority and server certificates for localhost and 127.0.0.1 signed by it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A test certificate authority in `dir` (`ca.crt`, `ca.key`), made once per directory.
pub fn make_ca(dir: &Path) -> PathBuf {
    let cert = dir.join("ca.crt");
    if !cert.exists() {
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &path(&dir.join("ca.key")),
            "-out",
            &path(&cert),
            "-days",
            "2",
            "-subj",
            "/CN=Tabibu test CA",
        ]);
    }
    cert
}

/// A server certificate for localhost and 127.0.0.1 signed by the test CA in `dir`, as
/// `<name>.crt`/`<name>.key`.
pub fn make_cert(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let ca = make_ca(dir);
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        &path(&key),
        "-out",
        &path(&csr),
        "-subj",
        &format!("/CN={name}"),
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        &path(&csr),
        "-CA",
        &path(&ca),
        "-CAkey",
        &path(&dir.join("ca.key")),
        "-CAcreateserial",
        "-out",
        &path(&cert),
        "-days",
        "2",
        "-extfile",
        &path(&ext),
    ]);
    (cert, key)
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

fn openssl(args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A fresh temporary folder.
pub fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tabibu-tls-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
