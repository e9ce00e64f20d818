//! The delivery pass: claim due emails from the outbox, hand each to the configured provider,
//! and record what happened. `server/src/jobs.rs` runs it in a loop in every server process;
//! tests run it directly with a clock of their own (the `now` argument), so retries that are
//! minutes apart in production are a few lines apart in a test.
//!
//! Guarantees, with the outbox's lease:
//! - an email is tried by one worker at a time (the claim), and only while its lease has more
//!   than one attempt's timeout left, so a slow attempt never overlaps another worker's;
//! - an email is marked `sent` only after the provider accepted it, and is otherwise retried
//!   with back-off or set aside as `dead`: nothing is dropped;
//! - what a worker claimed but did not try (shutdown, a lease running short) is handed back
//!   at once, without counting as an attempt.
//!
//! The one duplicate left is inherent to every mail protocol: a worker that dies after the
//! provider's "yes" and before recording it will have the email sent again once its lease
//! runs out. SMTP copies carry the same `Message-ID`, so they can be recognised.
//!
//! Logs carry the email's id, template, provider and failure code; never an address, a name
//! or a link.

use super::config::EmailConfig;
use super::outbox::{self, ClaimedEmail, LEASE_MS, NextAttempt, OutboxError};
use super::providers::{EmailProvider, Failure, Outgoing, SetupError};
use crate::platform::Db;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Headroom kept between the end of an attempt's timeout and the end of the lease.
const LEASE_MARGIN: Duration = Duration::from_secs(10);

/// The configured provider, with what the worker loops of this process share: the wake-up
/// that follows a commit that queued an email, and the stop at shutdown.
pub struct Mailer {
    provider: EmailProvider,
    /// The longest one attempt may take (`TABIBU_EMAIL_TIMEOUT_SECS`).
    attempt_timeout: Duration,
    wake: Notify,
    stopping: AtomicBool,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("provider", &self.provider.name())
            .field("attempt_timeout", &self.attempt_timeout)
            .finish_non_exhaustive()
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Emails claimed from the outbox.
    pub claimed: usize,
    pub sent: usize,
    /// Failed this time, to be tried again later.
    pub retrying: usize,
    /// Given up (refused for good, or out of attempts).
    pub dead: usize,
    /// Claimed but handed back untried.
    pub released: usize,
}

impl Mailer {
    /// The provider `config` names (see `notifications::config`).
    pub fn new(config: &EmailConfig, public_url: &str) -> Result<Mailer, SetupError> {
        Ok(Mailer::with_provider(
            EmailProvider::from_config(config, public_url)?,
            config.timeout,
        ))
    }

    /// The default `log` provider.
    pub fn log() -> Mailer {
        Mailer::with_provider(EmailProvider::Log, Duration::from_secs(1))
    }

    pub fn with_provider(provider: EmailProvider, attempt_timeout: Duration) -> Mailer {
        Mailer {
            provider,
            attempt_timeout,
            wake: Notify::new(),
            stopping: AtomicBool::new(false),
        }
    }

    pub fn provider_name(&self) -> &'static str {
        self.provider.name()
    }

    pub fn attempt_timeout(&self) -> Duration {
        self.attempt_timeout
    }

    /// Call after committing a transaction that queued an email: a waiting worker of this
    /// process starts a pass now instead of at its next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Tells this process's workers to stop: each finishes the email it is sending, hands
    /// back what it claimed and has not tried, and returns.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.wake.notify_waiters();
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Waits for [`Mailer::wake`], [`Mailer::stop`] or `poll`, whichever comes first.
    pub async fn wait(&self, poll: Duration) {
        let notified = self.wake.notified();
        tokio::pin!(notified);
        // Registered before the flag is read, so a stop in between is not missed.
        notified.as_mut().enable();
        if self.is_stopping() {
            return;
        }
        tokio::select! {
            () = notified => {}
            () = tokio::time::sleep(poll) => {}
        }
    }

    /// One pass at time `now` (ms since the epoch): claims up to `limit` due emails for
    /// `worker_id` and tries each once.
    #[tracing::instrument(name = "email.pass", skip_all, fields(provider = self.provider.name()))]
    pub async fn deliver_due(
        &self,
        db: &Db,
        worker_id: &str,
        now: i64,
        limit: u32,
    ) -> Result<PassReport, OutboxError> {
        let claimed = outbox::claim_batch(db, worker_id, now, limit).await?;
        let started = Instant::now();
        let lease = Duration::from_millis(u64::try_from(LEASE_MS).unwrap_or(0));
        let mut report = PassReport {
            claimed: claimed.len(),
            ..PassReport::default()
        };
        let mut emails = claimed.into_iter();
        while let Some(email) = emails.next() {
            let elapsed = started.elapsed();
            let lease_left = lease.saturating_sub(elapsed);
            if self.is_stopping() || lease_left < self.attempt_timeout + LEASE_MARGIN {
                for untried in std::iter::once(email).chain(emails.by_ref()) {
                    if outbox::release(db, &untried.id, worker_id).await? {
                        report.released += 1;
                    }
                }
                break;
            }
            let at = now.saturating_add(i64::try_from(elapsed.as_millis()).unwrap_or(0));
            self.deliver_one(db, worker_id, &email, at, &mut report)
                .await?;
        }
        Ok(report)
    }

    async fn deliver_one(
        &self,
        db: &Db,
        worker_id: &str,
        email: &ClaimedEmail,
        at: i64,
        report: &mut PassReport,
    ) -> Result<(), OutboxError> {
        let template = email.template.code();
        let provider = self.provider.name();
        let Ok(message) = email.render() else {
            if outbox::mark_dead(db, &email.id, worker_id, "render_failed").await? {
                report.dead += 1;
            }
            return Ok(());
        };
        let outgoing = Outgoing {
            id: &email.id,
            to: &email.to,
            message: &message,
        };
        let failure = match self.provider.send(&outgoing).await {
            Ok(()) => {
                if outbox::mark_sent(db, &email.id, worker_id, provider, at).await? {
                    report.sent += 1;
                    tracing::info!(email_id = %email.id, template, provider, attempts = email.attempts, "email sent");
                } else {
                    // Only possible when an attempt outlived the lease, which the check before
                    // each attempt is there to prevent.
                    tracing::warn!(email_id = %email.id, template, provider, "email sent after its lease ran out; another worker may send it again");
                }
                return Ok(());
            }
            Err(failure) => failure,
        };
        let code = failure.code();
        if let Failure::Permanent { .. } = failure {
            if outbox::mark_dead(db, &email.id, worker_id, code).await? {
                report.dead += 1;
            }
            return Ok(());
        }
        let not_before = match failure {
            Failure::Transient {
                retry_after: Some(wait),
                ..
            } => Some(at.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX))),
            _ => None,
        };
        match outbox::mark_failed_after(db, &email.id, worker_id, code, at, not_before).await? {
            NextAttempt::RetryAt(retry_at) => {
                report.retrying += 1;
                if matches!(failure, Failure::Misconfigured { .. }) {
                    tracing::error!(email_id = %email.id, template, provider, error = code, retry_at, "the email provider refused our settings; check the TABIBU_EMAIL_*, TABIBU_SENDGRID_* or TABIBU_SMTP_* variables (the email waits and is retried)");
                } else {
                    tracing::warn!(email_id = %email.id, template, provider, error = code, attempts = email.attempts, retry_at, "email attempt failed; will retry");
                }
            }
            // `mark_dead` has logged it.
            NextAttempt::Dead => report.dead += 1,
            NextAttempt::NotLeased => {}
        }
        Ok(())
    }
}
