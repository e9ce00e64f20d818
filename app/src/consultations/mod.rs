//! Consultations: a patient asks for a doctor (from the assistant's triage result or with a
//! note of their own), the case enters the doctors' queue ordered by urgency, one doctor
//! claims it, they write to each other, and the doctor closes it with an outcome the patient
//! sees. Both sides see every change live through `crate::events`.
//!
//! Shared with the browser: [`types`], [`validate`], the pages and the server functions'
//! signatures. Server only: [`service`], and `emails`, the patient's emails it queues.

pub mod api;
pub mod pages;
pub mod strings;
pub mod types;
pub mod validate;

#[cfg(feature = "ssr")]
pub mod care;
#[cfg(feature = "ssr")]
mod emails;
#[cfg(feature = "ssr")]
pub mod http;
#[cfg(feature = "ssr")]
pub mod service;

pub use types::*;
