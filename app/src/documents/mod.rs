//! The patient's documents: uploading PDFs and photos of results (checked by content, size
//! limited, encrypted at rest as they stream in), listing, viewing, downloading and deleting
//! them, and the lab values read from PDF reports, with a chart per test over time.
//!
//! Shared with the browser: [`types`], the page and the server functions' signatures. Server only: [`service`], [`http`] (the upload and file endpoints),
//! [`storage`] (sealed files, the local folder), [`s3`] (an S3-compatible bucket), [`sniff`] (what a file is), [`pdf`] (bounded text reading) and
//! [`labs`] (values in text). Nothing here logs a filename, a value or any document content.

pub mod api;
pub mod pages;
pub mod strings;
pub mod types;

#[cfg(feature = "ssr")]
pub mod http;
#[cfg(feature = "ssr")]
pub mod labs;
#[cfg(feature = "ssr")]
pub mod pdf;
#[cfg(feature = "ssr")]
pub mod s3;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod sniff;
#[cfg(feature = "ssr")]
pub mod storage;
