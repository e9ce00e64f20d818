//! SendGrid's v3 Web API: `POST {base}/v3/mail/send` with the key as a bearer token and the
//! message as JSON (one personalization with one recipient; the plain-text part first, then
//! the HTML part, the order SendGrid requires).
//!
//! How answers are read:
//! - 2xx (202 in practice): accepted; SendGrid queues and delivers it from there.
//! - 429: too many requests, transient; its `Retry-After` (seconds) sets the earliest retry.
//! - 5xx, timeouts, network errors: transient.
//! - 400 (the request is malformed or the address is not one) and 413 (too large): permanent,
//!   since sending the same bytes again gets the same answer; the email goes to the dead
//!   letters with `sendgrid_400` / `sendgrid_413`.
//! - 401 and 403 (a wrong or revoked key, an unverified sender, a temporary block), and any
//!   other 4xx or a redirect (a wrong base URL): misconfigured; retried with back-off so that
//!   nothing is lost, and logged as an error with the code, so the operator fixes the key
//!   while the emails wait.
//!
//! The response body is never read into a log or an error: it can quote the address.

use super::{Failure, Outgoing};
use crate::notifications::config::{SendGridConfig, Sender};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use std::time::Duration;

/// Connecting never gets longer than this, whatever the whole attempt may take.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A `Retry-After` further away than this is not believed (the outbox's back-off cap rules).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(6 * 3600);

pub struct SendGrid {
    client: reqwest::Client,
    /// `{base}/v3/mail/send`.
    url: String,
    api_key: SecretString,
    from: Sender,
}

impl SendGrid {
    pub fn new(
        config: &SendGridConfig,
        from: Sender,
        timeout: Duration,
    ) -> Result<SendGrid, super::SetupError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
            // A redirect would carry the key elsewhere; SendGrid's API does not redirect.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| super::SetupError::HttpClient)?;
        Ok(SendGrid {
            client,
            url: format!("{}/v3/mail/send", config.base_url),
            api_key: config.api_key.clone(),
            from,
        })
    }

    /// The request body for `email`.
    pub fn body(&self, email: &Outgoing<'_>) -> serde_json::Value {
        let mut from = json!({ "email": self.from.address });
        if let Some(name) = &self.from.name {
            from["name"] = json!(name);
        }
        json!({
            "personalizations": [{ "to": [{ "email": email.to }] }],
            "from": from,
            "subject": email.message.subject,
            "content": [
                { "type": "text/plain", "value": email.message.text },
                { "type": "text/html", "value": email.message.html },
            ],
        })
    }

    pub async fn send(&self, email: &Outgoing<'_>) -> Result<(), Failure> {
        let response = self
            .client
            .post(&self.url)
            .bearer_auth(self.api_key.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&self.body(email))
            .send()
            .await
            .map_err(|err| {
                Failure::transient(if err.is_timeout() {
                    "sendgrid_timeout"
                } else if err.is_connect() {
                    "sendgrid_connect"
                } else {
                    "sendgrid_network"
                })
            })?;
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        classify(status, retry_after)
    }
}

/// What an HTTP status from SendGrid means for the email (see the module's list).
fn classify(status: u16, retry_after: Option<Duration>) -> Result<(), Failure> {
    match status {
        200..=299 => Ok(()),
        429 => Err(Failure::Transient {
            code: "sendgrid_429",
            retry_after,
        }),
        400 => Err(Failure::Permanent {
            code: "sendgrid_400",
        }),
        413 => Err(Failure::Permanent {
            code: "sendgrid_413",
        }),
        401 => Err(Failure::Misconfigured {
            code: "sendgrid_401",
        }),
        403 => Err(Failure::Misconfigured {
            code: "sendgrid_403",
        }),
        500..=599 => Err(Failure::transient("sendgrid_5xx")),
        300..=399 => Err(Failure::Misconfigured {
            code: "sendgrid_redirect",
        }),
        _ => Err(Failure::Misconfigured {
            code: "sendgrid_4xx",
        }),
    }
}

/// `Retry-After` in seconds (SendGrid's form); an HTTP date or nonsense is ignored and the
/// back-off decides.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_sorted_into_sent_retried_and_dead() {
        assert_eq!(classify(202, None), Ok(()));
        let wait = Some(Duration::from_secs(7));
        assert_eq!(
            classify(429, wait),
            Err(Failure::Transient {
                code: "sendgrid_429",
                retry_after: wait
            })
        );
        for status in [500, 502, 503, 504] {
            assert!(matches!(
                classify(status, None),
                Err(Failure::Transient { .. })
            ));
        }
        for status in [400, 413] {
            assert!(matches!(
                classify(status, None),
                Err(Failure::Permanent { .. })
            ));
        }
        for status in [401, 403, 404, 406, 451, 301] {
            assert!(matches!(
                classify(status, None),
                Err(Failure::Misconfigured { .. })
            ));
        }
    }

    #[test]
    fn retry_after_is_read_in_seconds_and_capped() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(reqwest::header::RETRY_AFTER, "30".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(30)));
        headers.insert(reqwest::header::RETRY_AFTER, "99999999".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(MAX_RETRY_AFTER));
        headers.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }
}
