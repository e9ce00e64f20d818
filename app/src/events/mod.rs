//! Live events: how a browser learns, within a second, that something it shows has changed —
//! a new case in the doctors' queue, a claim, a message, a closed consultation.
//!
//! An event says only *what* changed ([`LiveEventKind`] and a consultation id), never any
//! content: the browser then asks the feature's own server functions, which apply their own
//! access rules. So an event stream can never show anyone something they may not read.
//!
//! - [`types`]: the event as the browser receives it (both halves).
//! - `hub` (server): events are written to the `live_events` table inside the transaction of
//!   the change they describe, then a pump reads them in id order and fans them out to every
//!   open stream of this process. A stream that reconnects with `Last-Event-ID` gets what it
//!   missed from the table first.
//! - `http` (server): `GET /api/events`, the server-sent event stream.
//! - [`client`]: the browser side, an `EventSource` that reconnects by itself and resumes from
//!   its last event id.

pub mod client;
pub mod types;

#[cfg(feature = "ssr")]
pub mod http;
#[cfg(feature = "ssr")]
pub mod hub;

pub use types::*;
