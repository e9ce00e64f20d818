//! The data-encryption key: seals secrets kept in the database (two-factor secrets now,
//! documents later) with AES-256-GCM. Configured as `TABIBU_DATA_KEY` (32 bytes, base64) with
//! `TABIBU_DATA_KEY_ID` naming it, so that sealed values say which key opened them and keys can
//! be rotated. In development a key is made once and kept in `data/dev-data.key`; production
//! refuses to start without a configured key.

use base64::Engine;
use secrecy::{ExposeSecret, SecretBox};

/// Why the key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("invalid configuration: TABIBU_DATA_KEY: expected 32 bytes in base64")]
    Malformed,
    #[error(
        "invalid configuration: TABIBU_DATA_KEY is required in production (generate one with `openssl rand -base64 32`)"
    )]
    MissingInProduction,
    #[error("could not read or create the development key file {path}: {source}")]
    DevFile {
        path: String,
        source: std::io::Error,
    },
}

/// A 256-bit key and its id.
pub struct DataKey {
    pub id: String,
    key: SecretBox<[u8; 32]>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataKey {{ id: {:?}, key: [redacted] }}", self.id)
    }
}

impl DataKey {
    pub fn from_base64(id: &str, encoded: &str) -> Result<DataKey, KeyError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| KeyError::Malformed)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Malformed)?;
        Ok(DataKey {
            id: id.to_owned(),
            key: SecretBox::new(Box::new(key)),
        })
    }

    /// The development key, created on first use next to the SQLite database.
    pub fn development(dir: &std::path::Path) -> Result<DataKey, KeyError> {
        let path = dir.join("dev-data.key");
        let io = |source| KeyError::DevFile {
            path: path.display().to_string(),
            source,
        };
        if let Ok(existing) = std::fs::read_to_string(&path) {
            return DataKey::from_base64("dev", &existing);
        }
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
        let encoded = base64::engine::general_purpose::STANDARD.encode(key);
        write_private(&path, &encoded).map_err(io)?;
        DataKey::from_base64("dev", &encoded)
    }

    pub fn bytes(&self) -> &[u8; 32] {
        self.key.expose_secret()
    }
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}
