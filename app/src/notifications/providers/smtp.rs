//! SMTP through `lettre`, with rustls: STARTTLS (required, never silently skipped), TLS from
//! the first byte, or, towards this machine only, no encryption. Each attempt opens its own
//! connection, so a server that vanished costs one attempt and nothing else.
//!
//! Each message is `multipart/alternative` (plain text, then HTML) with a `Message-ID` made
//! from the outbox id (`<id@sender-domain>`): the same email sent twice (a worker that died
//! between the server's "250 OK" and recording it) carries the same id, and mail systems and
//! people can recognise the copy.
//!
//! How failures are read (RFC 5321's reply classes):
//! - 4xx replies (`421` closing, `450`/`451` try later, `452` no room): transient, `smtp_4NN`;
//! - 5xx replies (`550` no such mailbox, `552`, `554` refused): permanent, `smtp_5NN`, the email
//!   goes to the dead letters, except the authentication replies (`530`, `534`, `535`): our
//!   username or password is wrong, so they are retried and logged as `smtp_auth`;
//! - connection refused, reset or closed mid-conversation, and timeouts: transient
//!   (`smtp_refused`, `smtp_dropped`, `smtp_timeout`, `smtp_network`);
//! - TLS failures (the handshake fails, the certificate does not verify): misconfigured,
//!   `smtp_tls`; the server offering no STARTTLS or no usable sign-in: misconfigured,
//!   `smtp_client`;
//! - an address `lettre` cannot use: permanent, `bad_address`.

use super::{Failure, Outgoing};
use crate::notifications::config::{Sender, SmtpConfig, SmtpTls};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use std::time::Duration;

pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The part after `@` in `Message-ID`s.
    message_id_domain: String,
    /// The longest a whole attempt may take (lettre's own timeout is per command).
    timeout: Duration,
}

impl Smtp {
    pub fn new(
        config: &SmtpConfig,
        from: Sender,
        timeout: Duration,
        public_url: &str,
    ) -> Result<Smtp, super::SetupError> {
        let tls_parameters = || -> Result<TlsParameters, super::SetupError> {
            let mut builder = TlsParameters::builder(config.host.clone());
            if let Some(path) = &config.ca_file {
                let pem = std::fs::read(path).map_err(|_| super::SetupError::CaFile)?;
                let certificate =
                    Certificate::from_pem(&pem).map_err(|_| super::SetupError::CaFile)?;
                builder = builder.add_root_certificate(certificate);
            }
            builder.build_rustls().map_err(|_| super::SetupError::Tls)
        };
        let tls = match config.tls {
            SmtpTls::StartTls => Tls::Required(tls_parameters()?),
            SmtpTls::Implicit => Tls::Wrapper(tls_parameters()?),
            SmtpTls::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .tls(tls)
            .timeout(Some(timeout))
            .hello_name(hello_name(public_url));
        if let Some((user, password)) = &config.credentials {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        let message_id_domain = from.domain().to_owned();
        let address = from
            .address
            .parse()
            .map_err(|_| super::SetupError::Sender)?;
        Ok(Smtp {
            transport: builder.build(),
            from: Mailbox::new(from.name, address),
            message_id_domain,
            timeout,
        })
    }

    /// The message for `email`, as it goes on the wire.
    pub fn message(&self, email: &Outgoing<'_>) -> Result<Message, Failure> {
        let to: Mailbox = email.to.trim().parse().map_err(|_| Failure::Permanent {
            code: "bad_address",
        })?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.message.subject.clone())
            .message_id(Some(format!("<{}@{}>", email.id, self.message_id_domain)))
            .multipart(MultiPart::alternative_plain_html(
                email.message.text.clone(),
                email.message.html.clone(),
            ))
            .map_err(|_| Failure::Permanent {
                code: "build_failed",
            })
    }

    pub async fn send(&self, email: &Outgoing<'_>) -> Result<(), Failure> {
        let message = self.message(email)?;
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Ok(Ok(_response)) => Ok(()),
            Ok(Err(err)) => Err(classify(&err)),
            Err(_elapsed) => Err(Failure::transient("smtp_timeout")),
        }
    }
}

/// The name we greet the server with: this server's public host name (as a mail server
/// expects), or `[127.0.0.1]` when it has none.
fn hello_name(public_url: &str) -> ClientId {
    let host = public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest)
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    let is_name = host.contains('.')
        && host.parse::<std::net::IpAddr>().is_err()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if is_name {
        ClientId::Domain(host.to_owned())
    } else {
        ClientId::default()
    }
}

/// Sorts a `lettre` error by the module's list.
fn classify(err: &lettre::transport::smtp::Error) -> Failure {
    if let Some(code) = err.status() {
        return reply_failure(u16::from(code));
    }
    if err.is_tls() {
        return Failure::Misconfigured { code: "smtp_tls" };
    }
    if err.is_timeout() {
        return Failure::transient("smtp_timeout");
    }
    // lettre's own refusals: no STARTTLS offered, no authentication mechanism in common,
    // an address the server cannot take. All but the last are our setup, and lettre does not
    // say which: retried and logged, like any misconfiguration.
    if err.is_client() {
        return Failure::Misconfigured {
            code: "smtp_client",
        };
    }
    if err.is_response() {
        return Failure::transient("smtp_protocol");
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind;
            // A failed TLS handshake reaches us as a connection error around rustls's
            // error, which tokio-rustls reports as invalid data.
            if io.kind() == ErrorKind::InvalidData {
                return Failure::Misconfigured { code: "smtp_tls" };
            }
            return Failure::transient(match io.kind() {
                ErrorKind::ConnectionRefused => "smtp_refused",
                ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
                | ErrorKind::UnexpectedEof => "smtp_dropped",
                ErrorKind::TimedOut => "smtp_timeout",
                _ => "smtp_network",
            });
        }
        source = cause.source();
    }
    Failure::transient("smtp_network")
}

/// Reply codes with a code of their own; others are `smtp_4xx` / `smtp_5xx`.
const REPLY_CODES: &[(u16, &str)] = &[
    (421, "smtp_421"),
    (450, "smtp_450"),
    (451, "smtp_451"),
    (452, "smtp_452"),
    (454, "smtp_454"),
    (455, "smtp_455"),
    (500, "smtp_500"),
    (501, "smtp_501"),
    (502, "smtp_502"),
    (503, "smtp_503"),
    (504, "smtp_504"),
    (521, "smtp_521"),
    (550, "smtp_550"),
    (551, "smtp_551"),
    (552, "smtp_552"),
    (553, "smtp_553"),
    (554, "smtp_554"),
    (555, "smtp_555"),
    (556, "smtp_556"),
];

fn reply_failure(code: u16) -> Failure {
    let name = REPLY_CODES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, name)| *name);
    match code {
        530 | 534 | 535 => Failure::Misconfigured { code: "smtp_auth" },
        400..=499 => Failure::transient(name.unwrap_or("smtp_4xx")),
        _ => Failure::Permanent {
            code: name.unwrap_or("smtp_5xx"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notifications::RenderedEmail;

    #[test]
    fn replies_are_sorted_by_their_class() {
        assert_eq!(
            reply_failure(451),
            Failure::Transient {
                code: "smtp_451",
                retry_after: None
            }
        );
        assert_eq!(reply_failure(550), Failure::Permanent { code: "smtp_550" });
        assert_eq!(reply_failure(559), Failure::Permanent { code: "smtp_5xx" });
        assert_eq!(
            reply_failure(471),
            Failure::Transient {
                code: "smtp_4xx",
                retry_after: None
            }
        );
        assert_eq!(
            reply_failure(535),
            Failure::Misconfigured { code: "smtp_auth" }
        );
    }

    #[test]
    fn the_greeting_uses_the_public_host_name() {
        assert_eq!(
            hello_name("https://tabibu.example.org:8443/x").to_string(),
            "tabibu.example.org"
        );
        assert_eq!(
            hello_name("http://127.0.0.1:3000").to_string(),
            ClientId::default().to_string()
        );
    }

    #[test]
    fn a_message_has_both_parts_and_an_id_made_from_the_outbox_id() {
        let config = SmtpConfig {
            host: "127.0.0.1".into(),
            port: 2525,
            tls: SmtpTls::None,
            credentials: None,
            ca_file: None,
        };
        let from = Sender::parse("Kliniki Tabibu <no-reply@clinic.example>").unwrap();
        let smtp = Smtp::new(&config, from, Duration::from_secs(5), "http://x").unwrap();
        let message = RenderedEmail {
            subject: "Karibu Tabibu".into(),
            text: "Habari Amina,\n\nmaandishi".into(),
            html: "<p>Habari Amina,</p>".into(),
        };
        let email = Outgoing {
            id: "0b5e7c1e-1111-4222-8333-944445555666",
            to: "amina@example.org",
            message: &message,
        };
        let wire = String::from_utf8(smtp.message(&email).unwrap().formatted()).unwrap();
        assert!(wire.contains("Message-ID: <0b5e7c1e-1111-4222-8333-944445555666@clinic.example>"));
        assert!(wire.contains("multipart/alternative"));
        assert!(wire.contains("text/plain") && wire.contains("text/html"));
        assert!(wire.contains("Subject: Karibu Tabibu"));
        let bad = Outgoing {
            to: "not an address",
            ..email
        };
        assert_eq!(
            smtp.message(&bad).err(),
            Some(Failure::Permanent {
                code: "bad_address"
            })
        );
    }
}
