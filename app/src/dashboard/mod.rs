//! The doctors' dashboard: the live queue ordered by urgency then waiting time, and the case
//! view where a doctor reads everything about a claimed case, writes to the patient, keeps
//! private notes, overrides the level, hands the case over and closes it.
//!
//! Pages only: the server functions and their rules are the consultations feature's
//! (`crate::consultations::api`), so there is one place where who-may-do-what is decided.
//! The browser-only parts (the alert sound, the keyboard) are in [`cue`].

pub mod cue;
pub mod oversight;
pub mod pages;
pub mod strings;
