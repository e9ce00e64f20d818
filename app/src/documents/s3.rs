//! Documents in an S3-compatible object store (AWS S3, MinIO, Garage, Ceph, …), chosen with
//! `TABIBU_DOCUMENTS_STORE=s3`: the settings ([`S3Config`]) and the store ([`S3Store`]).
//!
//! The store only ever receives what [`super::storage::Sealer`] wrote: ciphertext under an
//! object name made of the optional prefix and the random storage key. A blob smaller than one
//! part ([`PART`]) is sent with one `PUT` at commit; a larger one becomes a multipart upload
//! whose parts leave as they fill. Nothing is visible under the name before the commit, and a
//! dropped upload aborts its multipart upload.
//!
//! Memory per upload: at most one part on its way to the store and one filling, so under
//! 2 × [`PART`] (10 MiB) plus one sealed chunk, whatever the file's size. The upload waits
//! for the part in flight before it sends the next, which slows a fast client down to the
//! store's pace instead of buffering.
//!
//! Crashes: an upload cut by a crash (no drop runs) leaves an incomplete multipart upload in
//! the bucket, invisible but billed. The operator's bucket lifecycle rule
//! `AbortIncompleteMultipartUpload` removes those (docs/PRODUCTION_DEPLOYMENT.md); Tabibu
//! does not list them itself.
//!
//! This module must never log or put into an error the credentials, a document's name or its
//! content; errors name the object only by its opaque key.

use super::storage::{BlobUpload, DocumentStore, StorageError, check_key};
use crate::platform::config::ConfigError;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{
    BackoffConfig, ClientOptions, MultipartUpload, ObjectStoreExt, PutPayload, RetryConfig,
};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::Duration;

/// The size of every part of a multipart upload but the last: S3's smallest allowed part.
pub const PART: usize = 5 * 1024 * 1024;

/// The bucket and how to reach it (`TABIBU_S3_*`). `Debug` shows no credential.
#[derive(Clone)]
pub struct S3Config {
    /// `TABIBU_S3_BUCKET`.
    pub bucket: String,
    /// `TABIBU_S3_REGION` (default `us-east-1`, which most S3-compatible servers accept).
    pub region: String,
    /// `TABIBU_S3_ENDPOINT`: the server's address for anything but AWS itself; requests then
    /// name the bucket in the path (`https://host/bucket/key`), not in the host name.
    pub endpoint: Option<String>,
    /// `TABIBU_S3_PREFIX`: a folder inside the bucket, without slashes at its ends.
    pub prefix: Option<String>,
    /// `TABIBU_S3_ACCESS_KEY_ID`.
    pub access_key_id: SecretString,
    /// `TABIBU_S3_SECRET_ACCESS_KEY`.
    pub secret_access_key: SecretString,
    /// Plain `http://` is allowed: the endpoint is on this machine, or
    /// `TABIBU_S3_ALLOW_HTTP=true` said so.
    pub allow_http: bool,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("prefix", &self.prefix)
            .field("access_key_id", &"[redacted]")
            .field("secret_access_key", &"[redacted]")
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

/// Where documents are kept (`TABIBU_DOCUMENTS_STORE`).
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// Files in `TABIBU_DOCUMENTS_DIR` (one machine, or a folder shared by all instances).
    Local,
    S3(S3Config),
}

impl StoreConfig {
    /// Reads `TABIBU_DOCUMENTS_STORE` and, for `s3`, the `TABIBU_S3_*` settings. `get` gives
    /// a variable's trimmed, non-empty value. Errors name the variable, never a secret.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<StoreConfig, ConfigError> {
        match get("TABIBU_DOCUMENTS_STORE").as_deref() {
            None | Some("local") => return Ok(StoreConfig::Local),
            Some("s3") => {}
            Some(other) => {
                return Err(invalid(
                    "TABIBU_DOCUMENTS_STORE",
                    format!("expected `local` or `s3`, got `{other}`"),
                ));
            }
        }
        let bucket = get("TABIBU_S3_BUCKET").ok_or_else(|| {
            invalid(
                "TABIBU_S3_BUCKET",
                "needed with TABIBU_DOCUMENTS_STORE=s3 (the bucket's name)".into(),
            )
        })?;
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !bucket_ok {
            return Err(invalid(
                "TABIBU_S3_BUCKET",
                format!("expected 3 to 63 lowercase letters, digits, `.` or `-`, got `{bucket}`"),
            ));
        }
        let region = get("TABIBU_S3_REGION").unwrap_or_else(|| "us-east-1".into());
        if !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(invalid(
                "TABIBU_S3_REGION",
                format!("expected a region such as eu-west-1, got `{region}`"),
            ));
        }
        let allow_http = match get("TABIBU_S3_ALLOW_HTTP").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(invalid(
                    "TABIBU_S3_ALLOW_HTTP",
                    format!("expected `true` or `false`, got `{other}`"),
                ));
            }
        };
        let (endpoint, allow_http) = match get("TABIBU_S3_ENDPOINT") {
            None => (None, false),
            Some(endpoint) => {
                let loopback = check_endpoint(&endpoint)?;
                if endpoint.starts_with("http://") && !loopback && !allow_http {
                    return Err(invalid(
                        "TABIBU_S3_ENDPOINT",
                        "plain http:// would send documents and signed requests unencrypted; \
                         use https://, or set TABIBU_S3_ALLOW_HTTP=true for a trusted network"
                            .into(),
                    ));
                }
                let allow = endpoint.starts_with("http://");
                (Some(endpoint.trim_end_matches('/').to_owned()), allow)
            }
        };
        let prefix = match get("TABIBU_S3_PREFIX") {
            None => None,
            Some(prefix) => {
                let trimmed = prefix.trim_matches('/');
                let ok = trimmed.split('/').all(|segment| {
                    !segment.is_empty()
                        && segment != "."
                        && segment != ".."
                        && segment
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                });
                if !ok {
                    return Err(invalid(
                        "TABIBU_S3_PREFIX",
                        format!(
                            "expected folder names of letters, digits, `.`, `_` or `-` \
                             separated by `/`, got `{prefix}`"
                        ),
                    ));
                }
                Some(trimmed.to_owned())
            }
        };
        let access_key_id = get("TABIBU_S3_ACCESS_KEY_ID").ok_or_else(|| {
            invalid(
                "TABIBU_S3_ACCESS_KEY_ID",
                "needed with TABIBU_DOCUMENTS_STORE=s3".into(),
            )
        })?;
        let secret_access_key = get("TABIBU_S3_SECRET_ACCESS_KEY").ok_or_else(|| {
            invalid(
                "TABIBU_S3_SECRET_ACCESS_KEY",
                "needed with TABIBU_DOCUMENTS_STORE=s3".into(),
            )
        })?;
        Ok(StoreConfig::S3(S3Config {
            bucket,
            region,
            endpoint,
            prefix,
            access_key_id: SecretString::from(access_key_id),
            secret_access_key: SecretString::from(secret_access_key),
            allow_http,
        }))
    }

    /// The settings for `tabibu check-config`; the credentials as `[redacted]`.
    pub fn summary(&self) -> Vec<(&'static str, String)> {
        match self {
            StoreConfig::Local => vec![("TABIBU_DOCUMENTS_STORE", "local".to_owned())],
            StoreConfig::S3(s3) => vec![
                ("TABIBU_DOCUMENTS_STORE", "s3".to_owned()),
                ("TABIBU_S3_BUCKET", s3.bucket.clone()),
                ("TABIBU_S3_REGION", s3.region.clone()),
                (
                    "TABIBU_S3_ENDPOINT",
                    s3.endpoint.clone().unwrap_or_else(|| "(AWS)".to_owned()),
                ),
                (
                    "TABIBU_S3_PREFIX",
                    s3.prefix.clone().unwrap_or_else(|| "(none)".to_owned()),
                ),
                ("TABIBU_S3_ACCESS_KEY_ID", "[redacted]".to_owned()),
                ("TABIBU_S3_SECRET_ACCESS_KEY", "[redacted]".to_owned()),
            ],
        }
    }
}

fn invalid(variable: &'static str, problem: String) -> ConfigError {
    ConfigError { variable, problem }
}

/// Checks an endpoint address; `Ok(true)` when it is on this machine. The value is echoed
/// back only when it carries no user information (which could hold a secret).
fn check_endpoint(endpoint: &str) -> Result<bool, ConfigError> {
    let shown = if endpoint.contains('@') {
        "(a value with user information)"
    } else {
        endpoint
    };
    let expected = |why: &str| {
        invalid(
            "TABIBU_S3_ENDPOINT",
            format!(
                "expected an address such as https://s3.example.org:9000 ({why}), got `{shown}`"
            ),
        )
    };
    let url = reqwest::Url::parse(endpoint).map_err(|_| expected("not an address"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(expected("http or https only"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(expected(
            "credentials go in TABIBU_S3_ACCESS_KEY_ID and _SECRET_ACCESS_KEY",
        ));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(expected("no path: the bucket is TABIBU_S3_BUCKET"));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| expected("no host"))?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    Ok(host == "localhost"
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()))
}

/// A bucket (and prefix) holding sealed document blobs. Cheap to clone: the client, with its
/// connection pool, is shared. Built once at start ([`crate::platform::AppState`]).
#[derive(Clone)]
pub struct S3Store {
    client: Arc<AmazonS3>,
    bucket: String,
    prefix: Option<String>,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl S3Store {
    /// Builds the client; no request is made yet.
    pub fn new(config: &S3Config) -> Result<S3Store, StorageError> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_access_key_id(config.access_key_id.expose_secret())
            .with_secret_access_key(config.secret_access_key.expose_secret())
            // A store that does not answer turns into an error within half a minute, not the
            // library's three minutes of retries, while a request (or a patient) waits.
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
            })
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(60))
                    .with_allow_http(config.allow_http),
            );
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false);
        }
        let client = builder.build().map_err(StorageError::from)?;
        Ok(S3Store {
            client: Arc::new(client),
            bucket: config.bucket.clone(),
            prefix: config.prefix.clone(),
        })
    }

    /// The object name of `key`: `prefix/key`, or `key` without a prefix.
    pub fn object_name(&self, key: &str) -> String {
        match &self.prefix {
            Some(prefix) => format!("{prefix}/{key}"),
            None => key.to_owned(),
        }
    }

    fn path(&self, key: &str) -> Result<Path, StorageError> {
        check_key(key)?;
        Ok(Path::from(self.object_name(key)))
    }

    /// Whether any object lies under the prefix (a restore asks before replacing).
    pub async fn holds_objects(&self) -> Result<bool, StorageError> {
        let prefix = self.prefix.as_deref().map(Path::from);
        let mut listing = object_store::ObjectStore::list(self.client.as_ref(), prefix.as_ref());
        match listing.next().await {
            None => Ok(false),
            Some(Ok(_)) => Ok(true),
            Some(Err(err)) => Err(err.into()),
        }
    }
}

/// The plaintext-free bytes of one stored object, as they arrive.
pub type S3Reader = tokio_util::io::StreamReader<
    futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>,
    Bytes,
>;

impl DocumentStore for S3Store {
    type Upload = S3Upload;
    type Reader = S3Reader;

    async fn begin(&self, key: &str) -> Result<S3Upload, StorageError> {
        Ok(S3Upload {
            client: self.client.clone(),
            path: self.path(key)?,
            buffer: Vec::new(),
            multipart: None,
            in_flight: None,
            committed: false,
        })
    }

    async fn open(&self, key: &str) -> Result<S3Reader, StorageError> {
        let path = self.path(key)?;
        let result = self.client.get(&path).await?;
        let stream = result
            .into_stream()
            .map_err(|err| std::io::Error::other(StorageError::from(err)))
            .boxed();
        Ok(tokio_util::io::StreamReader::new(stream))
    }

    async fn remove(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path(key)?;
        match self.client.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }
}

/// A blob being written to the bucket. See the module's notes on memory and on what a drop
/// does.
pub struct S3Upload {
    client: Arc<AmazonS3>,
    path: Path,
    /// Bytes not yet sent: all of a blob smaller than a part, else the part filling.
    buffer: Vec<u8>,
    /// The multipart upload, once the blob has outgrown one part.
    multipart: Option<Box<dyn MultipartUpload>>,
    /// The part on its way, uploading in a task of its own.
    in_flight: Option<tokio::task::JoinHandle<object_store::Result<()>>>,
    committed: bool,
}

impl std::fmt::Debug for S3Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Upload")
            .field("buffered", &self.buffer.len())
            .field("multipart", &self.multipart.is_some())
            .finish()
    }
}

impl S3Upload {
    /// Waits for the part in flight, if any.
    async fn settle(&mut self) -> Result<(), StorageError> {
        if let Some(part) = self.in_flight.take() {
            part.await
                .map_err(|err| StorageError::Io(std::io::Error::other(err)))??;
        }
        Ok(())
    }

    /// Sends the first [`PART`] bytes of the buffer as the next part, after the previous one
    /// has arrived.
    async fn send_part(&mut self) -> Result<(), StorageError> {
        self.settle().await?;
        if self.multipart.is_none() {
            let started = self.client.put_multipart(&self.path).await?;
            self.multipart = Some(started);
        }
        let rest = self.buffer.split_off(PART);
        let part = std::mem::replace(&mut self.buffer, rest);
        if let Some(upload) = self.multipart.as_mut() {
            self.in_flight = Some(tokio::spawn(upload.put_part(PutPayload::from(part))));
        }
        Ok(())
    }

    /// Completes the multipart upload with the last bytes as its last part.
    async fn complete(&mut self) -> Result<(), StorageError> {
        self.settle().await?;
        let Some(upload) = self.multipart.as_mut() else {
            return Ok(());
        };
        if !self.buffer.is_empty() {
            let last = std::mem::take(&mut self.buffer);
            upload.put_part(PutPayload::from(last)).await?;
        }
        upload.complete().await?;
        Ok(())
    }
}

impl BlobUpload for S3Upload {
    async fn write_all(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        self.buffer.extend_from_slice(bytes);
        while self.buffer.len() > PART {
            self.send_part().await?;
        }
        Ok(())
    }

    async fn commit(mut self) -> Result<(), StorageError> {
        if self.multipart.is_none() {
            let whole = std::mem::take(&mut self.buffer);
            self.client.put(&self.path, PutPayload::from(whole)).await?;
        } else {
            // On failure the upload is dropped uncommitted, and the drop aborts it.
            self.complete().await?;
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for S3Upload {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        let Some(mut upload) = self.multipart.take() else {
            // Nothing was sent: a blob under one part only goes out at commit.
            return;
        };
        let in_flight = self.in_flight.take();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                "an unfinished multipart upload could not be aborted (no runtime); the \
                 bucket's lifecycle rule removes it"
            );
            return;
        };
        // A drop cannot await: the abort runs on its own, after the part in flight.
        runtime.spawn(async move {
            if let Some(part) = in_flight {
                let _ = part.await;
            }
            if let Err(err) = upload.abort().await {
                tracing::warn!(
                    cause = %err,
                    "could not abort an unfinished multipart upload; the bucket's lifecycle \
                     rule removes it"
                );
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<StoreConfig, ConfigError> {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        StoreConfig::from_lookup(|name| map.get(name).map(|v| (*v).to_owned()))
    }

    const S3: [(&str, &str); 4] = [
        ("TABIBU_DOCUMENTS_STORE", "s3"),
        ("TABIBU_S3_BUCKET", "tabibu-docs"),
        ("TABIBU_S3_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("TABIBU_S3_SECRET_ACCESS_KEY", "s3cret-key"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut pairs = S3.to_vec();
        pairs.extend_from_slice(extra);
        pairs
    }

    #[test]
    fn the_local_folder_is_the_default() {
        assert!(matches!(parse(&[]), Ok(StoreConfig::Local)));
        assert!(matches!(
            parse(&[("TABIBU_DOCUMENTS_STORE", "local")]),
            Ok(StoreConfig::Local)
        ));
    }

    #[test]
    fn plain_http_is_for_this_machine_or_when_allowed() {
        for loopback in [
            "http://127.0.0.1:9000",
            "http://localhost:9000",
            "http://[::1]:9000/",
        ] {
            let Ok(StoreConfig::S3(s3)) = parse(&with(&[("TABIBU_S3_ENDPOINT", loopback)])) else {
                panic!("{loopback} refused");
            };
            assert!(s3.allow_http);
            assert!(!s3.endpoint.unwrap_or_default().ends_with('/'));
        }
        let err = parse(&with(&[("TABIBU_S3_ENDPOINT", "http://minio.lan:9000")])).unwrap_err();
        assert_eq!(err.variable, "TABIBU_S3_ENDPOINT");
        assert!(
            parse(&with(&[
                ("TABIBU_S3_ENDPOINT", "http://minio.lan:9000"),
                ("TABIBU_S3_ALLOW_HTTP", "true"),
            ]))
            .is_ok()
        );
        let Ok(StoreConfig::S3(s3)) = parse(&with(&[("TABIBU_S3_ENDPOINT", "https://s3.lan")]))
        else {
            panic!("https refused");
        };
        assert!(!s3.allow_http);
    }

    #[test]
    fn a_bad_or_missing_value_names_its_variable() {
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (
                vec![("TABIBU_DOCUMENTS_STORE", "ftp")],
                "TABIBU_DOCUMENTS_STORE",
            ),
            (vec![("TABIBU_DOCUMENTS_STORE", "s3")], "TABIBU_S3_BUCKET"),
            (
                with(&[("TABIBU_S3_BUCKET", "Docs_Bucket")]),
                "TABIBU_S3_BUCKET",
            ),
            (with(&[("TABIBU_S3_REGION", "EU West")]), "TABIBU_S3_REGION"),
            (with(&[("TABIBU_S3_PREFIX", "a/../b")]), "TABIBU_S3_PREFIX"),
            (with(&[("TABIBU_S3_PREFIX", "a//b")]), "TABIBU_S3_PREFIX"),
            (
                with(&[("TABIBU_S3_ENDPOINT", "s3.lan")]),
                "TABIBU_S3_ENDPOINT",
            ),
            (
                with(&[("TABIBU_S3_ENDPOINT", "https://s3.lan/bucket")]),
                "TABIBU_S3_ENDPOINT",
            ),
            (
                with(&[("TABIBU_S3_ALLOW_HTTP", "yes")]),
                "TABIBU_S3_ALLOW_HTTP",
            ),
        ];
        for (pairs, variable) in cases {
            let err = parse(&pairs).unwrap_err();
            assert_eq!(err.variable, variable, "{pairs:?}");
        }
        let partial: Vec<_> = S3
            .iter()
            .copied()
            .filter(|(k, _)| !k.contains("SECRET"))
            .collect();
        assert_eq!(
            parse(&partial).unwrap_err().variable,
            "TABIBU_S3_SECRET_ACCESS_KEY"
        );
    }

    #[test]
    fn credentials_are_never_shown() {
        let config = parse(&with(&[("TABIBU_S3_PREFIX", "/clinic/docs/")])).unwrap();
        let shown = format!("{config:?} {:?}", config.summary());
        assert!(
            !shown.contains("s3cret") && !shown.contains("AKIDEXAMPLE"),
            "{shown}"
        );
        let StoreConfig::S3(s3) = &config else {
            panic!("not s3");
        };
        assert_eq!(s3.prefix.as_deref(), Some("clinic/docs"));
        let store = S3Store::new(s3).unwrap();
        assert!(!format!("{store:?}").contains("s3cret"));
        let key = super::super::storage::new_key();
        assert_eq!(store.object_name(&key), format!("clinic/docs/{key}"));
        let err = parse(&with(&[(
            "TABIBU_S3_ENDPOINT",
            "https://user:s3cret@s3.lan",
        )]))
        .unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}
