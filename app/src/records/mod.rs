//! "My data": the patient's own record — a timeline of their history, the whole record as a
//! FHIR R4 bundle to download, and deleting the account.
//!
//! Shared with the browser: [`types`], the pages and the server functions' signatures.
//! Server only: [`fhir`] (the bundle), [`service`] (gathering, timeline, deletion) and
//! [`http`] (the download endpoint). Nothing here logs what the record holds.

pub mod api;
pub mod pages;
pub mod strings;
pub mod types;

#[cfg(feature = "ssr")]
pub mod fhir;
#[cfg(feature = "ssr")]
pub mod http;
#[cfg(feature = "ssr")]
pub mod service;
