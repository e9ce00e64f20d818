//! Consultation fees paid with M-Pesa (Safaricom's Daraja API, "Lipa na M-Pesa Online").
//!
//! When `TABIBU_CONSULTATION_FEE_KES` is above 0, a new consultation waits in
//! `awaiting_payment` until its fee is paid; the patient enters their M-Pesa number, M-Pesa
//! prompts their phone, and the callback (or, if it never comes, the reconciliation job's
//! status query) settles the payment. The consultation enters the doctors' queue in the same
//! transaction that marks it paid. Admins see every payment and can export them as CSV.
//!
//! Shared with the browser: [`types`], [`validate`], [`strings`], the pages and the server
//! functions' signatures. Server only: [`config`], [`daraja`] (the wire format and client),
//! [`simulator`] (an in-process Daraja look-alike), [`service`] and [`http`].

pub mod api;
pub mod pages;
pub mod strings;
pub mod types;
pub mod validate;

#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod daraja;
#[cfg(feature = "ssr")]
pub mod http;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod simulator;

pub use types::*;
