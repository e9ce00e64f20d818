//! Payments on the server: asking M-Pesa for a consultation's fee, taking its callback,
//! reconciling what never got one, and the admins' table. Testable without Leptos; the server
//! functions in `api` and the endpoints in `http` only parse, check the role and call these.
//!
//! # Money is never lost, counted twice or faked
//!
//! - A payment row is written (`pending`) before M-Pesa is asked, so every prompt the payer
//!   sees has a row.
//! - A callback is stored raw first, keyed by its CheckoutRequestID: the first one decides,
//!   repeats only count, and one that arrives before the push's own answer waits there until
//!   that answer is stored (then it is applied).
//! - A state change happens only from `pending` (`UPDATE … WHERE state = 'pending'`), so two
//!   deliveries, two instances or the callback racing the reconciliation job settle a payment
//!   once. The consultation enters the queue in the same transaction as the payment becomes
//!   `paid`, with its audit entry, its live events and its email.
//! - The callback's amount must equal the amount asked for; otherwise the payment fails with
//!   `amount_mismatch` and the consultation stays out of the queue.
//!
//! Nothing here logs a phone number, receipt, token or callback body: ids and codes only.

use super::config::PaymentsConfig;
use super::daraja::{
    CallbackAnswer, CallbackEnvelope, DarajaClient, DarajaError, QueryAnswer, StkPush,
};
use super::simulator::Simulator;
use super::types::{
    AdminPayment, PaymentPanel, PaymentState, PaymentView, PaymentsOverview, phone_hint,
};
use crate::accounts::session::AuthUser;
use crate::audit::{self, AuditAction, AuditEvent, Outcome};
use crate::error::AppError;
use crate::events::LiveEventKind;
use crate::events::hub::{NewEvent, publish_in};
use crate::platform::db::now_ms;
use crate::platform::{AppState, Config, internal_error};
use sqlx::{AnyConnection, Row};
use std::sync::Arc;

/// The audit log's name for a payment as a subject.
pub const SUBJECT_PAYMENT: &str = "payment";
/// The reconciliation job first asks about a pending payment this long after it started,
/// leaving time for the callback.
pub const FIRST_CHECK_MS: i64 = 60_000;
/// Between two status queries of the same payment.
pub const RECHECK_MS: i64 = 60_000;
/// A prompt M-Pesa still calls "being processed" after this long is given up as expired.
pub const PENDING_MAX_MS: i64 = 10 * 60_000;
/// A payment whose push never got an answer (so it has no CheckoutRequestID) after this long
/// is expired.
pub const NO_CHECKOUT_MAX_MS: i64 = 2 * 60_000;
/// While a prompt is this fresh, asking again returns it instead of prompting twice.
pub const REPROMPT_AFTER_MS: i64 = 90_000;
/// How many pending payments one reconciliation round looks at.
const RECONCILE_BATCH: i64 = 50;
/// The most rows a CSV export holds.
const CSV_MAX_ROWS: i64 = 100_000;

/// Why a payment could not be asked for or read. `Display` names the step, never data.
#[derive(Debug, thiserror::Error)]
pub enum PayError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("audit: {0}")]
    Audit(#[from] audit::AuditError),
    #[error("profile: {0}")]
    Profile(#[from] crate::profile::service::ProfileError),
    #[error("email: {0}")]
    Email(#[from] crate::notifications::outbox::OutboxError),
    /// Not there, or not the caller's.
    #[error("no such consultation for this caller")]
    NotFound,
    /// The consultation is paid for already.
    #[error("the consultation is already paid for")]
    AlreadyPaid,
    /// The consultation is not waiting for a payment (free, cancelled, …).
    #[error("the consultation is not waiting for a payment")]
    NotDue,
    /// M-Pesa could not be asked; the payment was marked failed and nothing was charged.
    #[error("M-Pesa: {0}")]
    Provider(#[from] DarajaError),
}

impl PayError {
    /// The client's view of this error; unforeseen ones are logged with the request id.
    pub fn into_app_error(self, operation: &'static str) -> AppError {
        let err = match self {
            PayError::NotFound => AppError::NotFound,
            PayError::AlreadyPaid => AppError::Conflict {
                code: "payment.already_paid".into(),
            },
            PayError::NotDue => AppError::Conflict {
                code: "payment.not_due".into(),
            },
            PayError::Provider(err) => {
                tracing::warn!(operation, cause = %err, "M-Pesa could not be asked");
                AppError::Conflict {
                    code: "payment.provider_unavailable".into(),
                }
            }
            other => return internal_error(operation, &other),
        };
        crate::platform::reject(err)
    }
}

/// The payments machinery of one process: the Daraja client (pointed at the simulator when
/// that is the provider) and the settings.
#[derive(Debug)]
pub struct Payments {
    pub config: PaymentsConfig,
    client: DarajaClient,
    simulator: Option<Simulator>,
    callback_url: String,
}

impl Payments {
    /// Sets up the configured provider; starts the simulator when it is the one.
    pub async fn start(config: &Config) -> Result<Arc<Payments>, std::io::Error> {
        let p = &config.payments;
        let simulator = match &p.base_url {
            Some(_) => None,
            None => Some(
                Simulator::start(
                    p.consumer_key.clone(),
                    p.consumer_secret.clone(),
                    &p.shortcode,
                    p.passkey.clone(),
                    p.simulator_delay,
                )
                .await?,
            ),
        };
        let base_url = match (&p.base_url, &simulator) {
            (Some(url), _) => url.clone(),
            (None, Some(sim)) => sim.base_url(),
            (None, None) => unreachable!("a simulator is started whenever no base URL is set"),
        };
        let client = DarajaClient::new(
            &base_url,
            p.consumer_key.clone(),
            p.consumer_secret.clone(),
            &p.shortcode,
            p.passkey.clone(),
            p.timeout,
        )
        .map_err(std::io::Error::other)?;
        Ok(Arc::new(Payments {
            callback_url: p.callback_url(&config.public_url),
            config: p.clone(),
            client,
            simulator,
        }))
    }

    /// The simulator, when it is the provider (tests script faults through it).
    pub fn simulator(&self) -> Option<&Simulator> {
        self.simulator.as_ref()
    }

    /// The provider's name as stored with each payment.
    pub fn provider_name(&self) -> &'static str {
        self.config.provider.name()
    }
}

/// A payment row as the service reads it.
struct Row_ {
    id: String,
    consultation_id: Option<String>,
    patient_id: Option<String>,
    state: PaymentState,
    amount_kes: i64,
    phone: Option<String>,
    checkout_request_id: Option<String>,
    receipt: Option<String>,
    result_code: Option<String>,
    created_at: i64,
    settled_at: Option<i64>,
    provider: String,
}

const COLUMNS: &str = "id, consultation_id, patient_id, state, amount_kes, phone, \
     checkout_request_id, receipt, result_code, created_at, settled_at, provider";

fn read_row(row: &sqlx::any::AnyRow) -> Result<Row_, sqlx::Error> {
    let state: String = row.try_get(3)?;
    Ok(Row_ {
        id: row.try_get(0)?,
        consultation_id: row.try_get(1)?,
        patient_id: row.try_get(2)?,
        state: PaymentState::parse(&state).unwrap_or(PaymentState::Failed),
        amount_kes: row.try_get(4)?,
        phone: row.try_get(5)?,
        checkout_request_id: row.try_get(6)?,
        receipt: row.try_get(7)?,
        result_code: row.try_get(8)?,
        created_at: row.try_get(9)?,
        settled_at: row.try_get(10)?,
        provider: row.try_get(11)?,
    })
}

impl Row_ {
    fn view(&self) -> PaymentView {
        PaymentView {
            id: self.id.clone(),
            state: self.state,
            amount_kes: self.amount_kes,
            receipt: self.receipt.clone(),
            phone_hint: phone_hint(self.phone.as_deref().unwrap_or_default()),
            created_ms: self.created_at,
            settled_ms: self.settled_at,
        }
    }
}

async fn payment_by(
    conn: &mut AnyConnection,
    column: &str,
    value: &str,
) -> Result<Option<Row_>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM payments WHERE {column} = $1"
    ))
    .bind(value)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(read_row).transpose()
}

async fn latest_for(
    conn: &mut AnyConnection,
    consultation_id: &str,
) -> Result<Option<Row_>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM payments WHERE consultation_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT 1"
    ))
    .bind(consultation_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(read_row).transpose()
}

/// The consultation's fee and status, if it is `patient_id`'s.
async fn own_consultation(
    state: &AppState,
    patient_id: &str,
    consultation_id: &str,
) -> Result<(i64, String), PayError> {
    let row =
        sqlx::query("SELECT fee_kes, status FROM consultations WHERE id = $1 AND patient_id = $2")
            .bind(consultation_id)
            .bind(patient_id)
            .fetch_optional(state.db.pool())
            .await?
            .ok_or(PayError::NotFound)?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// The payment step of the patient's own consultation; `None` when it is free.
pub async fn panel(
    state: &AppState,
    user: &AuthUser,
    consultation_id: &str,
) -> Result<Option<PaymentPanel>, PayError> {
    let (fee_kes, _) = own_consultation(state, &user.user_id, consultation_id).await?;
    if fee_kes == 0 {
        return Ok(None);
    }
    let mut conn = state.db.pool().acquire().await?;
    let latest = latest_for(&mut conn, consultation_id).await?;
    let profile = crate::profile::service::load(&state.db, &user.user_id).await?;
    Ok(Some(PaymentPanel {
        consultation_id: consultation_id.to_owned(),
        fee_kes,
        latest: latest.map(|p| p.view()),
        profile_phone: profile.phone,
    }))
}

/// A request to pay for a consultation, checked by the caller (`api`).
#[derive(Clone)]
pub struct PayRequest {
    pub consultation_id: String,
    /// `2547XXXXXXXX` or `2541XXXXXXXX`.
    pub phone: String,
    /// The page's key: the same key twice is one payment.
    pub request_key: String,
}

impl std::fmt::Debug for PayRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayRequest")
            .field("consultation_id", &self.consultation_id)
            .finish_non_exhaustive()
    }
}

fn audit_event(action: AuditAction, outcome: Outcome, payment_id: &str) -> AuditEvent {
    AuditEvent::new(action, outcome).subject(SUBJECT_PAYMENT, payment_id)
}

fn patient_event(kind: LiveEventKind, consultation_id: &str, patient_id: &str) -> NewEvent {
    NewEvent {
        kind,
        consultation_id: Some(consultation_id.to_owned()),
        patient_id: Some(patient_id.to_owned()),
        doctor_id: None,
        to_doctors: false,
    }
}

/// Prompts the payer's phone for the consultation's fee. Returns the payment as it stands:
/// `pending` while the payer decides. Asking again with the same key, or while the last
/// prompt is still fresh, returns that payment instead of prompting twice.
pub async fn pay(
    state: &AppState,
    user: &AuthUser,
    request: PayRequest,
) -> Result<PaymentView, PayError> {
    let payments = &state.payments;
    let mut conn = state.db.pool().acquire().await?;
    if let Some(existing) = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM payments WHERE patient_id = $1 AND request_key = $2"
    ))
    .bind(&user.user_id)
    .bind(&request.request_key)
    .fetch_optional(&mut *conn)
    .await?
    {
        return Ok(read_row(&existing)?.view());
    }
    let (fee_kes, status) =
        own_consultation(state, &user.user_id, &request.consultation_id).await?;
    let now = now_ms();
    let latest = latest_for(&mut conn, &request.consultation_id).await?;
    drop(conn);
    if let Some(latest) = &latest {
        if latest.state == PaymentState::Paid {
            return Err(PayError::AlreadyPaid);
        }
        if latest.state == PaymentState::Pending && now - latest.created_at < REPROMPT_AFTER_MS {
            return Ok(latest.view());
        }
    }
    if status != crate::consultations::Status::AwaitingPayment.as_str() || fee_kes <= 0 {
        return Err(PayError::NotDue);
    }

    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut tx = state.db.pool().begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO payments (id, consultation_id, patient_id, request_key, provider, state, \
         amount_kes, phone, created_at, updated_at, next_check_at) \
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $8, $9) \
         ON CONFLICT (patient_id, request_key) DO NOTHING",
    )
    .bind(&id)
    .bind(&request.consultation_id)
    .bind(&user.user_id)
    .bind(&request.request_key)
    .bind(payments.provider_name())
    .bind(fee_kes)
    .bind(&request.phone)
    .bind(now)
    .bind(now + FIRST_CHECK_MS)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        // The same request, submitted twice at once: the other one won.
        tx.rollback().await?;
        let mut conn = state.db.pool().acquire().await?;
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM payments WHERE patient_id = $1 AND request_key = $2"
        ))
        .bind(&user.user_id)
        .bind(&request.request_key)
        .fetch_one(&mut *conn)
        .await?;
        return Ok(read_row(&row)?.view());
    }
    audit::record_in(
        &mut tx,
        audit_event(AuditAction::PaymentRequested, Outcome::Success, &id)
            .actor(&user.user_id, user.role.as_str()),
    )
    .await?;
    tx.commit().await?;

    let push = StkPush {
        amount_kes: u64::try_from(fee_kes).unwrap_or(0),
        phone: request.phone.clone(),
        callback_url: payments.callback_url.clone(),
        account_reference: "TABIBU".into(),
        description: "Consultation".into(),
    };
    let answer = payments.client.stk_push(&push, now_ms()).await;
    let mut tx = state.db.pool().begin().await?;
    match answer {
        Ok(accepted) => {
            lock_checkout(state, &mut tx, &accepted.checkout_request_id).await?;
            sqlx::query(
                "UPDATE payments SET merchant_request_id = $1, checkout_request_id = $2, \
                 updated_at = $3 WHERE id = $4",
            )
            .bind(&accepted.merchant_request_id)
            .bind(&accepted.checkout_request_id)
            .bind(now_ms())
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            // M-Pesa may have answered the payer before it answered us.
            apply_stored_callback(state, &mut tx, &accepted.checkout_request_id).await?;
        }
        Err(err) => {
            tracing::warn!(payment_id = %id, cause = %err, "STK push failed");
            settle(
                state,
                &mut tx,
                &id,
                PaymentState::Failed,
                err.code(),
                None,
                now_ms(),
            )
            .await?;
            tx.commit().await?;
            state.events.wake();
            state.mailer.wake();
            return Err(PayError::Provider(err));
        }
    }
    tx.commit().await?;
    state.events.wake();
    state.mailer.wake();
    let mut conn = state.db.pool().acquire().await?;
    let row = payment_by(&mut conn, "id", &id)
        .await?
        .ok_or(PayError::NotFound)?;
    Ok(row.view())
}

/// The outcome M-Pesa's ResultCode means.
pub fn state_for_result(result_code: i64) -> PaymentState {
    match result_code {
        0 => PaymentState::Paid,
        // The payer pressed cancel.
        1032 => PaymentState::Cancelled,
        // The payer could not be reached, or did not answer in time.
        1037 | 1019 => PaymentState::Expired,
        _ => PaymentState::Failed,
    }
}

/// Moves a payment out of `pending` (or out of `expired` for want of an answer, when M-Pesa's
/// success comes late) and does what follows in the same transaction: a paid consultation
/// enters the queue. Returns false when the payment was settled already (nothing changed).
async fn settle(
    state: &AppState,
    conn: &mut AnyConnection,
    payment_id: &str,
    to: PaymentState,
    result_code: &str,
    receipt: Option<&str>,
    now: i64,
) -> Result<bool, PayError> {
    let late_success_allowed = if to == PaymentState::Paid {
        " OR (state = 'expired' AND result_code IN ('no_result', 'no_checkout_id'))"
    } else {
        ""
    };
    let changed = sqlx::query(&format!(
        "UPDATE payments SET state = $1, result_code = $2, receipt = $3, settled_at = $4, \
         updated_at = $4 WHERE id = $5 AND (state = 'pending'{late_success_allowed})"
    ))
    .bind(to.as_str())
    .bind(result_code)
    .bind(receipt)
    .bind(now)
    .bind(payment_id)
    .execute(&mut *conn)
    .await?;
    if changed.rows_affected() == 0 {
        return Ok(false);
    }
    let row = payment_by(conn, "id", payment_id)
        .await?
        .ok_or(PayError::NotFound)?;
    let outcome = if to == PaymentState::Paid {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    audit::record_in(
        conn,
        audit_event(AuditAction::PaymentSettled, outcome, payment_id).detail(to.as_str()),
    )
    .await?;
    let (Some(consultation_id), Some(patient_id)) = (&row.consultation_id, &row.patient_id) else {
        return Ok(true);
    };
    if to == PaymentState::Paid {
        let queued = sqlx::query(
            "UPDATE consultations SET status = 'waiting', updated_at = $1 \
             WHERE id = $2 AND status = 'awaiting_payment'",
        )
        .bind(now)
        .bind(consultation_id)
        .execute(&mut *conn)
        .await?;
        if queued.rows_affected() > 0 {
            let mut opened = patient_event(
                LiveEventKind::ConsultationOpened,
                consultation_id,
                patient_id,
            );
            opened.to_doctors = true;
            publish_in(conn, &opened).await?;
        }
        receipt_email(state, conn, &row, patient_id).await?;
    }
    publish_in(
        conn,
        &patient_event(
            LiveEventKind::ConsultationUpdated,
            consultation_id,
            patient_id,
        ),
    )
    .await?;
    Ok(true)
}

/// Queues the "payment received" email to the payer, with the change it announces: the
/// amount, M-Pesa's receipt number when known, and a link to the consultation; nothing else.
/// An address the outbox refuses is logged by id and skipped: the payment stands regardless.
async fn receipt_email(
    state: &AppState,
    conn: &mut AnyConnection,
    payment: &Row_,
    patient_id: &str,
) -> Result<(), PayError> {
    use crate::notifications::outbox::{self, Email, OutboxError};
    let Some(consultation_id) = &payment.consultation_id else {
        return Ok(());
    };
    let row = sqlx::query("SELECT email, name, locale FROM users WHERE id = $1")
        .bind(patient_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(());
    };
    let email = Email {
        template: crate::notifications::EmailTemplate::PaymentReceived,
        locale: row.try_get("locale")?,
        to: row.try_get("email")?,
        params: serde_json::json!({
            "name": row.try_get::<String, _>("name")?,
            "link": format!("{}/consultations/{consultation_id}", state.config.public_url),
            "amount_kes": payment.amount_kes,
            "receipt": payment.receipt,
        }),
    };
    match outbox::enqueue(conn, email).await {
        Ok(_) => Ok(()),
        Err(OutboxError::Db(err)) => Err(err.into()),
        Err(err) => {
            tracing::warn!(payment_id = %payment.id, cause = %err, "payment email not queued");
            Ok(())
        }
    }
}

/// Applies the callback stored for `checkout_request_id`, if one arrived before its payment
/// knew that id.
async fn apply_stored_callback(
    state: &AppState,
    conn: &mut AnyConnection,
    checkout_request_id: &str,
) -> Result<(), PayError> {
    let stored: Option<String> = sqlx::query_scalar(
        "SELECT body FROM mpesa_callbacks WHERE checkout_request_id = $1 AND outcome = 'unmatched'",
    )
    .bind(checkout_request_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(body) = stored else {
        return Ok(());
    };
    let Ok(envelope) = serde_json::from_str::<CallbackEnvelope>(&body) else {
        return Ok(());
    };
    apply(state, conn, &envelope, now_ms()).await?;
    Ok(())
}

/// Serialises, until the transaction ends, everything about one CheckoutRequestID: the
/// callback and the push's answer each look for the other after taking this, so however they
/// interleave, the second sees the first. SQLite already runs one writer at a time.
async fn lock_checkout(
    state: &AppState,
    conn: &mut AnyConnection,
    checkout_request_id: &str,
) -> Result<(), sqlx::Error> {
    if state.db.kind() == crate::platform::DbKind::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(checkout_request_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// What became of one callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// It settled its payment.
    Applied,
    /// A repeat of a callback already handled: nothing changed.
    Duplicate,
    /// Its payment was settled already (e.g. by the reconciliation job): nothing changed.
    Late,
    /// It claims an amount other than the one asked for: the payment failed.
    AmountMismatch,
    /// No payment has its CheckoutRequestID (yet): kept, not applied.
    Unknown,
    /// Not Daraja's callback JSON.
    Malformed,
}

impl CallbackOutcome {
    /// The answer Daraja expects.
    pub fn answer(self) -> CallbackAnswer {
        match self {
            CallbackOutcome::Applied
            | CallbackOutcome::Duplicate
            | CallbackOutcome::Late
            | CallbackOutcome::AmountMismatch => CallbackAnswer::accepted(),
            CallbackOutcome::Unknown => CallbackAnswer::rejected("unknown CheckoutRequestID"),
            CallbackOutcome::Malformed => CallbackAnswer::rejected("malformed callback"),
        }
    }
}

/// Settles the payment `envelope` is about. Returns what happened.
async fn apply(
    state: &AppState,
    conn: &mut AnyConnection,
    envelope: &CallbackEnvelope,
    now: i64,
) -> Result<CallbackOutcome, PayError> {
    let callback = &envelope.body.stk_callback;
    let Some(payment) =
        payment_by(conn, "checkout_request_id", &callback.checkout_request_id).await?
    else {
        return Ok(CallbackOutcome::Unknown);
    };
    let mut to = state_for_result(callback.result_code);
    let mut code = callback.result_code.to_string();
    let mut outcome = CallbackOutcome::Applied;
    if to == PaymentState::Paid
        && callback
            .amount()
            .is_none_or(|paid| i64::try_from(paid).ok() != Some(payment.amount_kes))
    {
        // Never take the callback's word for the amount.
        to = PaymentState::Failed;
        code = "amount_mismatch".into();
        outcome = CallbackOutcome::AmountMismatch;
    }
    let receipt = (to == PaymentState::Paid)
        .then(|| callback.receipt())
        .flatten();
    let changed = settle(state, conn, &payment.id, to, &code, receipt.as_deref(), now).await?;
    if !changed {
        outcome = CallbackOutcome::Late;
    }
    let stored = match outcome {
        CallbackOutcome::Applied => "applied",
        CallbackOutcome::AmountMismatch => "amount_mismatch",
        _ => "late",
    };
    sqlx::query(
        "UPDATE mpesa_callbacks SET outcome = $1, payment_id = $2 WHERE checkout_request_id = $3",
    )
    .bind(stored)
    .bind(&payment.id)
    .bind(&callback.checkout_request_id)
    .execute(&mut *conn)
    .await?;
    if outcome == CallbackOutcome::AmountMismatch {
        tracing::warn!(payment_id = %payment.id, "M-Pesa callback amount differs from the request");
    }
    Ok(outcome)
}

/// Takes one callback as posted by M-Pesa: stores it raw (once per CheckoutRequestID) and
/// settles its payment. Replays change nothing.
pub async fn receive_callback(state: &AppState, body: &[u8]) -> Result<CallbackOutcome, PayError> {
    let Ok(envelope) = serde_json::from_slice::<CallbackEnvelope>(body) else {
        return Ok(CallbackOutcome::Malformed);
    };
    let checkout_id = &envelope.body.stk_callback.checkout_request_id;
    let id_ok = !checkout_id.is_empty()
        && checkout_id.len() <= 100
        && checkout_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !id_ok {
        return Ok(CallbackOutcome::Malformed);
    }
    let raw = String::from_utf8_lossy(body);
    let now = now_ms();
    let mut tx = state.db.pool().begin().await?;
    lock_checkout(state, &mut tx, checkout_id).await?;
    let times: i64 = sqlx::query_scalar(
        "INSERT INTO mpesa_callbacks (checkout_request_id, received_at, body, result_code, outcome) \
         VALUES ($1, $2, $3, $4, 'unmatched') \
         ON CONFLICT (checkout_request_id) DO UPDATE \
         SET times_received = mpesa_callbacks.times_received + 1 \
         RETURNING CAST(times_received AS BIGINT)",
    )
    .bind(checkout_id)
    .bind(now)
    .bind(raw.as_ref())
    .bind(envelope.body.stk_callback.result_code)
    .fetch_one(&mut *tx)
    .await?;
    let outcome = if times > 1 {
        // The first delivery decides; apply it only if it is still waiting for its payment.
        let pending: Option<String> = sqlx::query_scalar(
            "SELECT body FROM mpesa_callbacks WHERE checkout_request_id = $1 AND outcome = 'unmatched'",
        )
        .bind(checkout_id)
        .fetch_optional(&mut *tx)
        .await?;
        match pending.and_then(|b| serde_json::from_str::<CallbackEnvelope>(&b).ok()) {
            Some(first) => match apply(state, &mut tx, &first, now).await? {
                CallbackOutcome::Unknown => CallbackOutcome::Unknown,
                _ => CallbackOutcome::Duplicate,
            },
            None => CallbackOutcome::Duplicate,
        }
    } else {
        apply(state, &mut tx, &envelope, now).await?
    };
    if outcome == CallbackOutcome::Unknown {
        audit::record_in(
            &mut tx,
            AuditEvent::new(AuditAction::PaymentCallbackRejected, Outcome::Denied)
                .detail("unknown_checkout_request"),
        )
        .await?;
    }
    tx.commit().await?;
    state.events.wake();
    state.mailer.wake();
    Ok(outcome)
}

/// What one reconciliation round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    pub checked: u32,
    pub paid: u32,
    pub failed: u32,
    pub expired: u32,
    pub still_pending: u32,
}

/// Asks M-Pesa about pending payments whose callback has not come, and settles those it has
/// an answer for. Safe to run on several instances at once: each payment is leased to one
/// round at a time (`next_check_at`), and settling only ever moves a payment out of `pending`.
pub async fn reconcile(state: &AppState, now: i64) -> Result<ReconcileReport, PayError> {
    let due: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM payments WHERE state = 'pending' AND next_check_at <= $1 \
         ORDER BY next_check_at LIMIT $2",
    )
    .bind(now)
    .bind(RECONCILE_BATCH)
    .fetch_all(state.db.pool())
    .await?;
    let mut report = ReconcileReport::default();
    for id in due {
        let leased = sqlx::query(
            "UPDATE payments SET next_check_at = $1, checks = checks + 1 \
             WHERE id = $2 AND state = 'pending' AND next_check_at <= $3",
        )
        .bind(now + RECHECK_MS)
        .bind(&id)
        .bind(now)
        .execute(state.db.pool())
        .await?;
        if leased.rows_affected() == 0 {
            continue; // another instance has it
        }
        report.checked += 1;
        let mut conn = state.db.pool().acquire().await?;
        let Some(payment) = payment_by(&mut conn, "id", &id).await? else {
            continue;
        };
        drop(conn);
        let age = now - payment.created_at;
        let verdict: Option<(PaymentState, String)> = match &payment.checkout_request_id {
            None if age >= NO_CHECKOUT_MAX_MS => {
                Some((PaymentState::Expired, "no_checkout_id".into()))
            }
            None => None,
            Some(checkout) => match state.payments.client.stk_query(checkout, now_ms()).await {
                Ok(QueryAnswer::Finished { result_code }) => {
                    Some((state_for_result(result_code), result_code.to_string()))
                }
                Ok(QueryAnswer::Processing) if age >= PENDING_MAX_MS => {
                    Some((PaymentState::Expired, "no_result".into()))
                }
                Ok(QueryAnswer::Processing) => None,
                Err(err) => {
                    tracing::warn!(payment_id = %id, cause = %err, "STK status query failed");
                    (age >= 24 * 3_600_000).then(|| (PaymentState::Expired, "no_result".into()))
                }
            },
        };
        let Some((to, code)) = verdict else {
            report.still_pending += 1;
            continue;
        };
        let mut tx = state.db.pool().begin().await?;
        // A status query confirms payment but carries no receipt number; a late callback
        // would not change a paid payment, so the receipt stays unknown.
        if settle(state, &mut tx, &id, to, &code, None, now_ms()).await? {
            match to {
                PaymentState::Paid => report.paid += 1,
                PaymentState::Expired => report.expired += 1,
                _ => report.failed += 1,
            }
        }
        tx.commit().await?;
        state.events.wake();
        state.mailer.wake();
    }
    Ok(report)
}

fn admin_row(p: Row_) -> AdminPayment {
    AdminPayment {
        phone_hint: phone_hint(p.phone.as_deref().unwrap_or_default()),
        id: p.id,
        created_ms: p.created_at,
        settled_ms: p.settled_at,
        state: p.state,
        amount_kes: p.amount_kes,
        receipt: p.receipt,
        result_code: p.result_code,
        consultation_id: p.consultation_id,
        provider: p.provider,
        checkout_request_id: p.checkout_request_id,
    }
}

/// The admins' table: the latest payments (in one state, or all), with totals per state.
pub async fn overview(
    state: &AppState,
    only: Option<PaymentState>,
) -> Result<PaymentsOverview, PayError> {
    let pool = state.db.pool();
    let rows =
        match only {
            Some(s) => sqlx::query(&format!(
                "SELECT {COLUMNS} FROM payments WHERE state = $1 ORDER BY created_at DESC LIMIT 500"
            ))
            .bind(s.as_str())
            .fetch_all(pool)
            .await?,
            None => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM payments ORDER BY created_at DESC LIMIT 500"
                ))
                .fetch_all(pool)
                .await?
            }
        };
    let rows = rows
        .iter()
        .map(|r| read_row(r).map(admin_row))
        .collect::<Result<Vec<_>, _>>()?;
    let totals = sqlx::query(
        "SELECT state, CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(amount_kes), 0) AS BIGINT) \
         FROM payments GROUP BY state",
    )
    .fetch_all(pool)
    .await?
    .iter()
    .filter_map(|r| {
        let s: String = r.try_get(0).ok()?;
        Some((
            PaymentState::parse(&s)?,
            r.try_get(1).ok()?,
            r.try_get(2).ok()?,
        ))
    })
    .collect();
    let unmatched_callbacks: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM mpesa_callbacks WHERE outcome = 'unmatched'",
    )
    .fetch_one(pool)
    .await?;
    Ok(PaymentsOverview {
        rows,
        totals,
        unmatched_callbacks,
    })
}

/// Every payment as CSV (RFC 4180), newest first, for the admin `admin`; the export is audited.
pub async fn export_csv(state: &AppState, admin: &AuthUser) -> Result<String, PayError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM payments ORDER BY created_at DESC LIMIT {CSV_MAX_ROWS}"
    ))
    .fetch_all(state.db.pool())
    .await?;
    let mut out = String::from(
        "payment_id,created_utc,settled_utc,state,amount_kes,mpesa_receipt,result_code,phone,\
         consultation_id,provider,checkout_request_id\r\n",
    );
    for row in &rows {
        let p = admin_row(read_row(row)?);
        let cells = [
            p.id,
            iso_utc(p.created_ms),
            p.settled_ms.map(iso_utc).unwrap_or_default(),
            p.state.as_str().to_owned(),
            p.amount_kes.to_string(),
            p.receipt.unwrap_or_default(),
            p.result_code.unwrap_or_default(),
            p.phone_hint,
            p.consultation_id.unwrap_or_default(),
            p.provider,
            p.checkout_request_id.unwrap_or_default(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    let mut conn = state.db.pool().acquire().await?;
    audit::record_in(
        &mut conn,
        AuditEvent::new(AuditAction::PaymentsExported, Outcome::Success)
            .actor(&admin.user_id, admin.role.as_str()),
    )
    .await?;
    Ok(out)
}

/// `2026-12-04T09:30:05Z`.
fn iso_utc(ms: i64) -> String {
    let (y, m, d) = crate::accounts::validate::civil_date(ms);
    let secs = ms.rem_euclid(86_400_000) / 1000;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// One CSV cell: quoted when it must be, and never read as a formula by a spreadsheet.
pub fn csv_cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_codes_map_to_states() {
        assert_eq!(state_for_result(0), PaymentState::Paid);
        assert_eq!(state_for_result(1032), PaymentState::Cancelled);
        assert_eq!(state_for_result(1037), PaymentState::Expired);
        assert_eq!(state_for_result(1), PaymentState::Failed);
        assert_eq!(state_for_result(2001), PaymentState::Failed);
    }

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-1"), "'-1");
    }

    #[test]
    fn instants_are_utc() {
        assert_eq!(iso_utc(1_796_419_805_000), "2026-12-04T21:30:05Z");
    }
}
