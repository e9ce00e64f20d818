//! The ways an email leaves the server: `log` (keeps it for the admin), SendGrid's v3 API,
//! and SMTP. One [`EmailProvider`] is built at start from the configuration and shared.
//!
//! A provider answers every attempt with success or a [`Failure`] carrying a short code
//! (`sendgrid_429`, `smtp_550`, `smtp_refused`, …) that the outbox stores as `last_error` and
//! the log shows. The code is chosen here from a fixed list: never a provider's message, an
//! address or a response body, which can quote either. This module logs nothing itself.

pub mod sendgrid;
pub mod smtp;

use super::RenderedEmail;
use super::config::{EmailConfig, ProviderConfig};
use std::time::Duration;

/// One email on its way out.
pub struct Outgoing<'a> {
    /// The outbox id: SMTP's `Message-ID` is made from it, so a copy sent twice (a worker that
    /// died between the provider's "yes" and recording it) can be recognised as the same.
    pub id: &'a str,
    pub to: &'a str,
    pub message: &'a RenderedEmail,
}

impl std::fmt::Debug for Outgoing<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Why an attempt did not deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Worth another try later: the provider is busy or down, the network failed, the server
    /// answered 4xx. `retry_after` is the provider's own word on when (SendGrid's 429).
    Transient {
        code: &'static str,
        retry_after: Option<Duration>,
    },
    /// Our side is wrong (a refused key or password, a TLS setup the server rejects): retried
    /// like a transient failure, so nothing is lost while the operator fixes it, but logged as
    /// an error naming what to check.
    Misconfigured { code: &'static str },
    /// Trying again would fail the same way (an SMTP 5xx for this recipient, a request
    /// SendGrid calls malformed): the email goes to the dead letters for the admin.
    Permanent { code: &'static str },
}

impl Failure {
    pub fn code(self) -> &'static str {
        match self {
            Failure::Transient { code, .. }
            | Failure::Misconfigured { code }
            | Failure::Permanent { code } => code,
        }
    }

    fn transient(code: &'static str) -> Failure {
        Failure::Transient {
            code,
            retry_after: None,
        }
    }
}

/// A provider that could not be set up from a valid-looking configuration.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("TABIBU_SMTP_CA_FILE could not be read as PEM certificates")]
    CaFile,
    #[error("the TLS settings for SMTP could not be built")]
    Tls,
    #[error("the HTTP client for SendGrid could not be built")]
    HttpClient,
    #[error("TABIBU_EMAIL_FROM is not an address SMTP accepts")]
    Sender,
}

/// The configured provider.
pub enum EmailProvider {
    /// Sends nothing; the worker keeps the message readable in the outbox.
    Log,
    SendGrid(sendgrid::SendGrid),
    Smtp(smtp::Smtp),
}

impl std::fmt::Debug for EmailProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EmailProvider({})", self.name())
    }
}

impl EmailProvider {
    /// Builds the provider `config` names. `public_url` gives SMTP's greeting (`EHLO`) the
    /// name this server is known by.
    pub fn from_config(config: &EmailConfig, public_url: &str) -> Result<Self, SetupError> {
        Ok(match &config.provider {
            ProviderConfig::Log => EmailProvider::Log,
            ProviderConfig::SendGrid(sendgrid) => EmailProvider::SendGrid(sendgrid::SendGrid::new(
                sendgrid,
                config.from.clone(),
                config.timeout,
            )?),
            ProviderConfig::Smtp(smtp) => EmailProvider::Smtp(smtp::Smtp::new(
                smtp,
                config.from.clone(),
                config.timeout,
                public_url,
            )?),
        })
    }

    /// Stored as the `provider` of each email it sent.
    pub fn name(&self) -> &'static str {
        match self {
            EmailProvider::Log => super::outbox::LOG_PROVIDER,
            EmailProvider::SendGrid(_) => "sendgrid",
            EmailProvider::Smtp(_) => "smtp",
        }
    }

    /// One attempt to deliver `email`.
    pub async fn send(&self, email: &Outgoing<'_>) -> Result<(), Failure> {
        match self {
            EmailProvider::Log => Ok(()),
            EmailProvider::SendGrid(sendgrid) => sendgrid.send(email).await,
            EmailProvider::Smtp(smtp) => smtp.send(email).await,
        }
    }
}
