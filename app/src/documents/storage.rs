//! Where document files live, and how they are sealed there.
//!
//! [`DocumentStore`] is the seam for the storage backend: [`LocalStore`] keeps files in one
//! folder (`<data dir>/documents/` unless `TABIBU_DOCUMENTS_DIR` says otherwise),
//! [`super::s3::S3Store`] in an S3-compatible bucket; [`Store`] is whichever the configuration
//! chose (`TABIBU_DOCUMENTS_STORE`). A store only ever sees ciphertext.
//!
//! # The sealed format (a STREAM construction over AES-256-GCM)
//!
//! `TBDOC1` ‖ an 8-byte random prefix ‖ chunks. Each chunk is at most [`CHUNK`] bytes of
//! plaintext sealed with the nonce `prefix ‖ chunk counter (u32, big-endian)` and the
//! associated data `TBDOC1 ‖ storage key ‖ last-chunk flag`. So a chunk cannot be moved,
//! reordered or swapped into another document, and a file cut short at a chunk boundary is
//! detected: its new last chunk was sealed as "not last" and fails to open as the last one.
//! Only two chunks are ever in memory, whatever the file's size.
//!
//! An upload is written to a temporary file in the same folder and renamed into place only
//! when [`BlobUpload::commit`] is called; dropping an upload (an error, a client gone away)
//! deletes the temporary file. This module must never log a file's content or name.

use super::s3::{S3Reader, S3Store, S3Upload, StoreConfig};
use crate::platform::Config;
use crate::platform::keys::DataKey;
use aes_gcm::aead::{Aead, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use std::future::Future;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// Plaintext bytes per sealed chunk.
pub const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
const MAGIC: &[u8; 6] = b"TBDOC1";
const PREFIX: usize = 8;

/// Why a stored file could not be written or read. `Display` names the step only.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("document storage i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a valid storage key")]
    BadKey,
    #[error("the stored file is not in the sealed format")]
    BadHeader,
    #[error("a sealed chunk did not open (wrong key, tampered or truncated file)")]
    Corrupt,
    #[error("the file is too long for the chunk counter")]
    TooLong,
    #[error("sealing a chunk failed")]
    Seal,
    /// The object store refused or did not answer. Its message names the object by its
    /// opaque key, never a credential.
    #[error("object store: {0}")]
    ObjectStore(#[from] object_store::Error),
}

impl StorageError {
    /// Whether the blob is simply not there (a missing file or object).
    pub fn is_not_found(&self) -> bool {
        match self {
            StorageError::Io(err) => err.kind() == std::io::ErrorKind::NotFound,
            StorageError::ObjectStore(object_store::Error::NotFound { .. }) => true,
            _ => false,
        }
    }
}

impl StorageError {
    /// Whether the disk or the volume's quota is full (ENOSPC, EDQUOT): an operator's problem
    /// that passes, not a fault in the file.
    pub fn is_storage_full(&self) -> bool {
        matches!(self, StorageError::Io(err) if matches!(
            err.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        ))
    }
}

/// A place to keep sealed document files under opaque keys.
pub trait DocumentStore: Send + Sync {
    type Upload: BlobUpload;
    type Reader: AsyncRead + Unpin + Send + 'static;
    /// Starts writing the blob for `key`; nothing is visible under `key` until committed.
    fn begin(&self, key: &str) -> impl Future<Output = Result<Self::Upload, StorageError>> + Send;
    fn open(&self, key: &str) -> impl Future<Output = Result<Self::Reader, StorageError>> + Send;
    /// Removes the blob; a blob already gone is not an error.
    fn remove(&self, key: &str) -> impl Future<Output = Result<(), StorageError>> + Send;
}

/// A blob being written. Dropping it without [`BlobUpload::commit`] discards what was written.
pub trait BlobUpload: Send {
    fn write_all(&mut self, bytes: &[u8]) -> impl Future<Output = Result<(), StorageError>> + Send;
    fn commit(self) -> impl Future<Output = Result<(), StorageError>> + Send;
}

/// A new random storage key (32 hex digits: never derived from anything the patient gave).
pub fn new_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub(crate) fn check_key(key: &str) -> Result<(), StorageError> {
    if key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(StorageError::BadKey)
    }
}

/// Files in one local folder.
#[derive(Debug, Clone)]
pub struct LocalStore {
    dir: PathBuf,
}

impl LocalStore {
    pub fn new(dir: impl Into<PathBuf>) -> LocalStore {
        LocalStore { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Removes temporary upload files last written more than `age` ago. Uploads in progress
    /// (here or in another instance sharing the folder) write all the time, so a generous
    /// `age` never touches them.
    pub async fn sweep_temporary(&self, age: std::time::Duration) -> Result<usize, StorageError> {
        let mut entries = match tokio::fs::read_dir(&self.dir).await {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(err) => return Err(err.into()),
        };
        let mut removed = 0;
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !(name.starts_with(".upload-") && name.ends_with(".part")) {
                continue;
            }
            let modified = entry.metadata().await?.modified()?;
            if modified.elapsed().unwrap_or_default() > age {
                tokio::fs::remove_file(entry.path()).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// A file being written into a [`LocalStore`]: a temporary file until committed.
#[derive(Debug)]
pub struct LocalUpload {
    file: Option<tokio::fs::File>,
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Drop for LocalUpload {
    fn drop(&mut self) {
        if !self.committed {
            // Synchronous on purpose: a drop cannot await, and unlinking is quick.
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

impl DocumentStore for LocalStore {
    type Upload = LocalUpload;
    type Reader = tokio::fs::File;

    async fn begin(&self, key: &str) -> Result<LocalUpload, StorageError> {
        check_key(key)?;
        tokio::fs::create_dir_all(&self.dir).await?;
        let temp = self.dir.join(format!(".upload-{}.part", new_key()));
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let file = options.open(&temp).await?;
        Ok(LocalUpload {
            file: Some(file),
            temp,
            target: self.dir.join(key),
            committed: false,
        })
    }

    async fn open(&self, key: &str) -> Result<tokio::fs::File, StorageError> {
        check_key(key)?;
        Ok(tokio::fs::File::open(self.dir.join(key)).await?)
    }

    async fn remove(&self, key: &str) -> Result<(), StorageError> {
        check_key(key)?;
        match tokio::fs::remove_file(self.dir.join(key)).await {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err.into()),
            _ => Ok(()),
        }
    }
}

impl BlobUpload for LocalUpload {
    async fn write_all(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        let file = self.file.as_mut().ok_or(StorageError::BadHeader)?;
        file.write_all(bytes).await?;
        Ok(())
    }

    async fn commit(mut self) -> Result<(), StorageError> {
        if let Some(mut file) = self.file.take() {
            file.flush().await?;
            file.sync_all().await?;
        }
        tokio::fs::rename(&self.temp, &self.target).await?;
        self.committed = true;
        Ok(())
    }
}

/// The store the configuration chose, built once at start and shared (see
/// [`crate::platform::AppState`]): every operation goes to the one inside.
#[derive(Debug, Clone)]
pub enum Store {
    Local(LocalStore),
    S3(S3Store),
}

impl Store {
    /// The store `config` names. Builds the S3 client (no request yet) for `s3`.
    pub fn from_config(config: &Config) -> Result<Store, StorageError> {
        Ok(match &config.documents_store {
            StoreConfig::Local => Store::Local(LocalStore::new(config.documents_dir())),
            StoreConfig::S3(s3) => Store::S3(S3Store::new(s3)?),
        })
    }

    /// Removes temporary upload files a crash left behind (local folder only: an S3 upload
    /// cut by a crash is left to the bucket's lifecycle rule, see [`super::s3`]).
    pub async fn sweep_temporary(&self, age: std::time::Duration) -> Result<usize, StorageError> {
        match self {
            Store::Local(local) => local.sweep_temporary(age).await,
            Store::S3(_) => Ok(0),
        }
    }
}

/// A blob being written into a [`Store`].
#[derive(Debug)]
pub enum StoreUpload {
    Local(LocalUpload),
    S3(S3Upload),
}

/// A blob being read from a [`Store`].
pub enum StoreReader {
    Local(tokio::fs::File),
    S3(S3Reader),
}

impl std::fmt::Debug for StoreReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StoreReader::Local(_) => "StoreReader::Local",
            StoreReader::S3(_) => "StoreReader::S3",
        })
    }
}

impl AsyncRead for StoreReader {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            StoreReader::Local(file) => std::pin::Pin::new(file).poll_read(cx, buf),
            StoreReader::S3(reader) => std::pin::Pin::new(reader).poll_read(cx, buf),
        }
    }
}

impl DocumentStore for Store {
    type Upload = StoreUpload;
    type Reader = StoreReader;

    async fn begin(&self, key: &str) -> Result<StoreUpload, StorageError> {
        Ok(match self {
            Store::Local(local) => StoreUpload::Local(local.begin(key).await?),
            Store::S3(s3) => StoreUpload::S3(s3.begin(key).await?),
        })
    }

    async fn open(&self, key: &str) -> Result<StoreReader, StorageError> {
        Ok(match self {
            Store::Local(local) => StoreReader::Local(local.open(key).await?),
            Store::S3(s3) => StoreReader::S3(s3.open(key).await?),
        })
    }

    async fn remove(&self, key: &str) -> Result<(), StorageError> {
        match self {
            Store::Local(local) => local.remove(key).await,
            Store::S3(s3) => s3.remove(key).await,
        }
    }
}

impl BlobUpload for StoreUpload {
    async fn write_all(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        match self {
            StoreUpload::Local(local) => local.write_all(bytes).await,
            StoreUpload::S3(s3) => s3.write_all(bytes).await,
        }
    }

    async fn commit(self) -> Result<(), StorageError> {
        match self {
            StoreUpload::Local(local) => local.commit().await,
            StoreUpload::S3(s3) => s3.commit().await,
        }
    }
}

fn cipher(key: &DataKey) -> Aes256Gcm {
    Aes256Gcm::new(key.bytes().into())
}

fn nonce(prefix: &[u8; PREFIX], counter: u32) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[..PREFIX].copy_from_slice(prefix);
    nonce[PREFIX..].copy_from_slice(&counter.to_be_bytes());
    nonce
}

fn aad(storage_key: &str, last: bool) -> Vec<u8> {
    let mut aad = Vec::with_capacity(MAGIC.len() + storage_key.len() + 1);
    aad.extend_from_slice(MAGIC);
    aad.extend_from_slice(storage_key.as_bytes());
    aad.push(u8::from(last));
    aad
}

/// Seals plaintext into an upload, chunk by chunk, as it arrives.
pub struct Sealer<U: BlobUpload> {
    upload: U,
    cipher: Aes256Gcm,
    prefix: [u8; PREFIX],
    counter: u32,
    pending: Vec<u8>,
    storage_key: String,
}

impl<U: BlobUpload> std::fmt::Debug for Sealer<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer {{ chunks: {} }}", self.counter)
    }
}

impl<U: BlobUpload> Sealer<U> {
    /// Writes the header; `storage_key` is bound into every chunk.
    pub async fn start(
        mut upload: U,
        key: &DataKey,
        storage_key: &str,
    ) -> Result<Sealer<U>, StorageError> {
        let mut prefix = [0u8; PREFIX];
        rand::rngs::OsRng.fill_bytes(&mut prefix);
        let mut header = Vec::with_capacity(MAGIC.len() + PREFIX);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&prefix);
        upload.write_all(&header).await?;
        Ok(Sealer {
            upload,
            cipher: cipher(key),
            prefix,
            counter: 0,
            pending: Vec::with_capacity(CHUNK * 2),
            storage_key: storage_key.to_owned(),
        })
    }

    /// Adds plaintext; full chunks are sealed and written as soon as a byte follows them
    /// (the last chunk is only known at [`Sealer::finish`]).
    pub async fn write(&mut self, mut bytes: &[u8]) -> Result<(), StorageError> {
        while !bytes.is_empty() {
            let room = CHUNK + 1 - self.pending.len();
            let take = room.min(bytes.len());
            self.pending.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.pending.len() > CHUNK {
                let rest = self.pending.split_off(CHUNK);
                let chunk = std::mem::replace(&mut self.pending, rest);
                self.seal(&chunk, false).await?;
            }
        }
        Ok(())
    }

    async fn seal(&mut self, plain: &[u8], last: bool) -> Result<(), StorageError> {
        let nonce = nonce(&self.prefix, self.counter);
        let aad = aad(&self.storage_key, last);
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .map_err(|_| StorageError::Seal)?;
        self.counter = self.counter.checked_add(1).ok_or(StorageError::TooLong)?;
        self.upload.write_all(&sealed).await
    }

    /// Seals the last chunk and hands back the upload, ready to commit.
    pub async fn finish(mut self) -> Result<U, StorageError> {
        let last = std::mem::take(&mut self.pending);
        self.seal(&last, true).await?;
        Ok(self.upload)
    }
}

/// Opens a sealed file chunk by chunk.
pub struct Opener<R: AsyncRead + Unpin> {
    reader: R,
    cipher: Aes256Gcm,
    prefix: [u8; PREFIX],
    counter: u32,
    storage_key: String,
    next: Vec<u8>,
    done: bool,
}

impl<R: AsyncRead + Unpin> std::fmt::Debug for Opener<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Opener {{ chunk: {}, done: {} }}",
            self.counter, self.done
        )
    }
}

async fn read_block<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Vec<u8>, StorageError> {
    let mut block = vec![0u8; CHUNK + TAG];
    let mut filled = 0;
    while filled < block.len() {
        let n = reader.read(&mut block[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    block.truncate(filled);
    Ok(block)
}

impl<R: AsyncRead + Unpin> Opener<R> {
    pub async fn start(
        mut reader: R,
        key: &DataKey,
        storage_key: &str,
    ) -> Result<Opener<R>, StorageError> {
        let mut header = [0u8; MAGIC.len() + PREFIX];
        reader
            .read_exact(&mut header)
            .await
            .map_err(|_| StorageError::BadHeader)?;
        if &header[..MAGIC.len()] != MAGIC {
            return Err(StorageError::BadHeader);
        }
        let mut prefix = [0u8; PREFIX];
        prefix.copy_from_slice(&header[MAGIC.len()..]);
        let next = read_block(&mut reader).await?;
        Ok(Opener {
            reader,
            cipher: cipher(key),
            prefix,
            counter: 0,
            storage_key: storage_key.to_owned(),
            next,
            done: false,
        })
    }

    /// The next chunk of plaintext; `None` after the last one.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, StorageError> {
        if self.done {
            return Ok(None);
        }
        // Marked done first, so that after any error nothing more comes out.
        self.done = true;
        let current = std::mem::take(&mut self.next);
        if current.len() < TAG {
            return Err(StorageError::Corrupt);
        }
        let following = read_block(&mut self.reader).await?;
        let last = following.is_empty();
        let nonce = nonce(&self.prefix, self.counter);
        let aad = aad(&self.storage_key, last);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &current,
                    aad: &aad,
                },
            )
            .map_err(|_| StorageError::Corrupt)?;
        if !last {
            self.counter = self.counter.checked_add(1).ok_or(StorageError::TooLong)?;
            self.next = following;
            self.done = false;
        }
        Ok(Some(plain))
    }

    /// The whole plaintext, refusing anything longer than `max` bytes.
    pub async fn read_to_end(mut self, max: usize) -> Result<Option<Vec<u8>>, StorageError> {
        let mut out = Vec::new();
        while let Some(chunk) = self.next_chunk().await? {
            if out.len() + chunk.len() > max {
                return Ok(None);
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DataKey {
        DataKey::from_base64("t", "dGFiaWJ1LXRlc3Qta2V5LW5vdC1mb3ItcHJvZCEhISE=").unwrap()
    }

    /// An upload into memory, to look at the sealed bytes.
    #[derive(Default)]
    struct Memory(Vec<u8>);

    impl BlobUpload for Memory {
        async fn write_all(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
            self.0.extend_from_slice(bytes);
            Ok(())
        }
        async fn commit(self) -> Result<(), StorageError> {
            Ok(())
        }
    }

    async fn seal(plain: &[u8], piece: usize) -> Vec<u8> {
        let mut sealer = Sealer::start(Memory::default(), &key(), "k").await.unwrap();
        for part in plain.chunks(piece.max(1)) {
            sealer.write(part).await.unwrap();
        }
        sealer.finish().await.unwrap().0
    }

    async fn open(sealed: &[u8], storage_key: &str) -> Result<Vec<u8>, StorageError> {
        let opener = Opener::start(sealed, &key(), storage_key).await?;
        Ok(opener.read_to_end(usize::MAX).await?.unwrap())
    }

    #[tokio::test]
    async fn files_of_every_awkward_length_round_trip() {
        for len in [
            1,
            100,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            3 * CHUNK,
            3 * CHUNK + 7,
        ] {
            let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for piece in [1000, CHUNK, 5 * CHUNK] {
                let sealed = seal(&plain, piece).await;
                // Only a long enough run says anything: a byte or two of any
                // plaintext turns up in random ciphertext by chance.
                if len >= 64 {
                    assert!(
                        !sealed.windows(64).any(|w| w == &plain[..64]),
                        "len {len}: the plaintext shows through"
                    );
                }
                assert_eq!(open(&sealed, "k").await.unwrap(), plain, "len {len}");
            }
        }
    }

    #[tokio::test]
    async fn a_file_cut_at_a_chunk_boundary_or_moved_to_another_key_does_not_open() {
        let plain = vec![7u8; 3 * CHUNK];
        let sealed = seal(&plain, CHUNK).await;
        let cut = &sealed[..MAGIC.len() + PREFIX + 2 * (CHUNK + TAG)];
        assert!(matches!(open(cut, "k").await, Err(StorageError::Corrupt)));
        assert!(matches!(
            open(&sealed, "other").await,
            Err(StorageError::Corrupt)
        ));
        let mut flipped = sealed.clone();
        flipped[100] ^= 1;
        assert!(matches!(
            open(&flipped, "k").await,
            Err(StorageError::Corrupt)
        ));
        assert!(matches!(
            open(b"%PDF-1.4", "k").await,
            Err(StorageError::BadHeader)
        ));
    }

    #[tokio::test]
    async fn a_dropped_upload_leaves_nothing_and_only_old_temporary_files_are_swept() {
        let dir = std::env::temp_dir().join(format!("tabibu-store-{}", new_key()));
        let store = LocalStore::new(&dir);
        let key = new_key();
        let mut upload = store.begin(&key).await.unwrap();
        upload.write_all(b"sealed bytes").await.unwrap();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        drop(upload);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);

        let kept = store.begin(&new_key()).await.unwrap();
        std::fs::write(dir.join(".upload-crashed.part"), b"x").unwrap();
        assert_eq!(
            store
                .sweep_temporary(std::time::Duration::from_secs(3600))
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            store
                .sweep_temporary(std::time::Duration::ZERO)
                .await
                .unwrap(),
            2
        );
        drop(kept);
        let mut committed = store.begin(&key).await.unwrap();
        committed.write_all(b"sealed").await.unwrap();
        committed.commit().await.unwrap();
        assert_eq!(
            store
                .sweep_temporary(std::time::Duration::ZERO)
                .await
                .unwrap(),
            0
        );
        store.open(&key).await.unwrap();
        store.remove(&key).await.unwrap();
        store.remove(&key).await.unwrap();
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn storage_keys_cannot_name_a_path() {
        assert!(check_key(&new_key()).is_ok());
        assert!(check_key("../../etc/passwd").is_err());
        assert!(check_key(&"a".repeat(31)).is_err());
    }
}
