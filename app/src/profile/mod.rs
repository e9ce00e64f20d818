//! The health profile: what the symptom assistant and the doctors need to know about a patient
//! beyond their account — date of birth, sex, pregnancy, allergies, medications, conditions and
//! the phone number M-Pesa payments are requested from.
//!
//! Shared with the browser: [`types`], [`validate`] (the same checks on both sides), the page
//! and the server functions' signatures. Server only: [`service`].

pub mod api;
pub mod pages;
pub mod strings;
pub mod types;
pub mod validate;

#[cfg(feature = "ssr")]
pub mod service;

pub use types::*;
