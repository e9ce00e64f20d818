//! Accounts: sign-up, sign-in with optional two-factor codes, sessions, passwords and their
//! reset, and the admin's user management, for patients, doctors and admins.
//!
//! Shared with the browser: [`types`], [`validate`] (the same checks run on both sides), the
//! pages and the server functions' signatures. Server only: the service and its parts.

pub mod api;
pub mod pages;
pub mod strings;
pub mod types;
pub mod validate;

#[cfg(feature = "ssr")]
pub mod password;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod session;
#[cfg(feature = "ssr")]
pub mod totp;

pub use types::*;
