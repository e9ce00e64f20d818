//! A Daraja look-alike that runs inside Tabibu on a loopback port, so the whole payment flow
//! works offline (`TABIBU_PAYMENTS_PROVIDER=simulator`, the default) and the tests have a
//! fake Daraja that speaks the real wire format.
//!
//! It checks requests the way Daraja does (credentials, token, every STK field, the password
//! formula, the timestamp) and refuses a malformed one with Daraja's error body, so a client
//! bug fails here instead of in the sandbox. After an accepted push it waits
//! `TABIBU_MPESA_SIMULATOR_DELAY_MS` and posts the callback. What happens depends on the
//! payer's number:
//!
//! | number          | outcome                                                        |
//! |-----------------|----------------------------------------------------------------|
//! | `254700000001`  | declined on the phone (ResultCode 1032)                        |
//! | `254700000002`  | insufficient balance (ResultCode 1)                            |
//! | `254700000003`  | never answered: no callback; a status query says 1037 (timeout) |
//! | any other       | paid, with a made-up receipt number                            |
//!
//! Tests can also script faults ([`Fault`]) and read what the simulator saw ([`Seen`]).

use super::daraja::{
    CallbackAnswer, CallbackBody, CallbackEnvelope, CallbackItem, CallbackMetadata, ErrorBody,
    StkCallback, StkPushRequest, StkPushResponse, StkQueryRequest, StkQueryResponse, TokenResponse,
    password, timestamp,
};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Payer numbers with a scripted outcome (see the module's table).
pub const DECLINES: &str = "254700000001";
pub const INSUFFICIENT: &str = "254700000002";
pub const NO_ANSWER: &str = "254700000003";

/// Something to go wrong with the next STK push (consumed in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer HTTP 500 with Daraja's error body; no push happens.
    ServerError,
    /// Refuse the token as expired (once), as Daraja does when a token has lapsed.
    ExpiredToken,
    /// Wait this long before answering (the push happens).
    Slow(Duration),
    /// Post the callback first and answer the push only after it was received.
    CallbackFirst,
    /// Settle the push but never post the callback (a lost callback).
    DropCallback,
}

/// What the simulator has seen, for tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    pub token_requests: u32,
    pub pushes: u32,
    pub queries: u32,
    pub callbacks_posted: u32,
    /// Refused requests, by the field that was wrong.
    pub refused: Vec<String>,
}

#[derive(Debug, Clone)]
struct Checkout {
    merchant_request_id: String,
    amount: u64,
    phone: String,
    /// Set once the payer "answered" (or the prompt timed out).
    result: Option<(i64, &'static str)>,
}

struct Inner {
    consumer_key: SecretString,
    consumer_secret: SecretString,
    shortcode: String,
    passkey: SecretString,
    delay: Duration,
    http: reqwest::Client,
    tokens: Mutex<HashMap<String, ()>>,
    checkouts: Mutex<HashMap<String, Checkout>>,
    faults: Mutex<VecDeque<Fault>>,
    seen: Mutex<Seen>,
}

/// A running simulator; cheap to clone.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
    addr: SocketAddr,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Simulator {
    /// Starts listening on a free loopback port; runs until the process ends.
    pub async fn start(
        consumer_key: SecretString,
        consumer_secret: SecretString,
        shortcode: &str,
        passkey: SecretString,
        delay: Duration,
    ) -> std::io::Result<Simulator> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner {
            consumer_key,
            consumer_secret,
            shortcode: shortcode.to_owned(),
            passkey,
            delay,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(std::io::Error::other)?,
            tokens: Mutex::new(HashMap::new()),
            checkouts: Mutex::new(HashMap::new()),
            faults: Mutex::new(VecDeque::new()),
            seen: Mutex::new(Seen::default()),
        });
        let app = axum::Router::new()
            .route("/oauth/v1/generate", get(token))
            .route("/mpesa/stkpush/v1/processrequest", post(push))
            .route("/mpesa/stkpushquery/v1/query", post(query))
            .with_state(inner.clone());
        tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::error!(cause = %err, "the M-Pesa simulator stopped");
            }
        });
        Ok(Simulator { inner, addr })
    }

    /// The address to use as Daraja's base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues a fault for the coming requests.
    pub fn inject(&self, fault: Fault) {
        lock(&self.inner.faults).push_back(fault);
    }

    pub fn seen(&self) -> Seen {
        lock(&self.inner.seen).clone()
    }

    /// How many pushes the payer has answered (or let time out) so far.
    pub fn answered(&self) -> usize {
        lock(&self.inner.checkouts)
            .values()
            .filter(|c| c.result.is_some())
            .count()
    }

    /// Makes every token issued so far invalid, as if they had all expired.
    pub fn expire_tokens(&self) {
        lock(&self.inner.tokens).clear();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn daraja_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = ErrorBody {
        request_id: format!("sim-{}", rand::thread_rng().r#gen::<u32>()),
        error_code: code.into(),
        error_message: message.into(),
    };
    (status, Json(body)).into_response()
}

fn bad_request(inner: &Inner, field: &str) -> Response {
    lock(&inner.seen).refused.push(field.to_owned());
    daraja_error(
        StatusCode::BAD_REQUEST,
        "400.002.02",
        &format!("Bad Request - Invalid {field}"),
    )
}

#[derive(serde::Deserialize)]
struct GrantQuery {
    grant_type: Option<String>,
}

async fn token(
    State(inner): State<Arc<Inner>>,
    Query(q): Query<GrantQuery>,
    headers: HeaderMap,
) -> Response {
    lock(&inner.seen).token_requests += 1;
    if q.grant_type.as_deref() != Some("client_credentials") {
        return bad_request(&inner, "grant_type");
    }
    use base64::Engine;
    let expected = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        inner.consumer_key.expose_secret(),
        inner.consumer_secret.expose_secret()
    ));
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    if given != Some(expected.as_str()) {
        return daraja_error(
            StatusCode::BAD_REQUEST,
            "400.008.01",
            "Invalid Authentication passed",
        );
    }
    let value: String = (0..28)
        .map(|_| rand::thread_rng().sample(rand::distributions::Alphanumeric) as char)
        .collect();
    lock(&inner.tokens).insert(value.clone(), ());
    Json(TokenResponse {
        access_token: value,
        expires_in: "3599".into(),
    })
    .into_response()
}

/// Whether the request carries a token this simulator issued; consumes an `ExpiredToken` fault.
fn authorised(inner: &Inner, headers: &HeaderMap) -> bool {
    {
        let mut faults = lock(&inner.faults);
        if faults.front() == Some(&Fault::ExpiredToken) {
            faults.pop_front();
            lock(&inner.tokens).clear();
            return false;
        }
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| lock(&inner.tokens).contains_key(t))
}

fn invalid_token() -> Response {
    daraja_error(
        StatusCode::UNAUTHORIZED,
        super::daraja::INVALID_TOKEN,
        "Invalid Access Token",
    )
}

/// Checks the signed part every Lipa na M-Pesa request carries; names the first wrong field.
fn check_signature(
    inner: &Inner,
    shortcode: &str,
    given_password: &str,
    given_timestamp: &str,
) -> Result<(), &'static str> {
    if shortcode != inner.shortcode {
        return Err("BusinessShortCode");
    }
    if given_timestamp.len() != 14 || !given_timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err("Timestamp");
    }
    // Daraja accepts a timestamp close to its own clock only.
    let now = crate::platform::db::now_ms();
    let near = [-600_000i64, 0, 600_000]
        .iter()
        .any(|skew| timestamp(now + skew)[..11] == given_timestamp[..11]);
    if !near {
        return Err("Timestamp");
    }
    let expected = password(shortcode, inner.passkey.expose_secret(), given_timestamp);
    if given_password != expected {
        return Err("Password");
    }
    Ok(())
}

fn is_mpesa_phone(phone: &str) -> bool {
    phone.len() == 12
        && (phone.starts_with("2547") || phone.starts_with("2541"))
        && phone.bytes().all(|b| b.is_ascii_digit())
}

fn check_push(inner: &Inner, r: &StkPushRequest) -> Result<(), &'static str> {
    check_signature(inner, &r.business_short_code, &r.password, &r.timestamp)?;
    if !matches!(
        r.transaction_type.as_str(),
        "CustomerPayBillOnline" | "CustomerBuyGoodsOnline"
    ) {
        return Err("TransactionType");
    }
    if r.amount == 0 || r.amount > 250_000 {
        return Err("Amount");
    }
    if !is_mpesa_phone(&r.party_a) {
        return Err("PartyA");
    }
    if r.phone_number != r.party_a {
        return Err("PhoneNumber");
    }
    if r.party_b != inner.shortcode {
        return Err("PartyB");
    }
    let url_ok = (r.callback_url.starts_with("https://") || r.callback_url.starts_with("http://"))
        && !r.callback_url.contains(char::is_whitespace);
    if !url_ok {
        return Err("CallBackURL");
    }
    if r.account_reference.is_empty() || r.account_reference.chars().count() > 12 {
        return Err("AccountReference");
    }
    if r.transaction_desc.is_empty() || r.transaction_desc.chars().count() > 13 {
        return Err("TransactionDesc");
    }
    Ok(())
}

/// Reads a JSON body strictly: Daraja refuses what does not parse into its fields.
fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ()> {
    serde_json::from_slice(body).map_err(|_| ())
}

async fn push(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&inner, &headers) {
        return invalid_token();
    }
    let Ok(request) = parse::<StkPushRequest>(&body) else {
        return bad_request(&inner, "Body");
    };
    if let Err(field) = check_push(&inner, &request) {
        return bad_request(&inner, field);
    }
    let fault = lock(&inner.faults).pop_front();
    if fault == Some(Fault::ServerError) {
        return daraja_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "500.001.1001",
            "Unable to lock subscriber, a transaction is already in process for the current subscriber",
        );
    }
    lock(&inner.seen).pushes += 1;
    let (checkout_id, merchant_id) = {
        let mut rng = rand::thread_rng();
        (
            format!(
                "ws_CO_{}{:010}",
                timestamp(crate::platform::db::now_ms()),
                rng.gen_range(0..10_000_000_000u64)
            ),
            format!(
                "{:05}-{:08}-1",
                rng.gen_range(0..100_000u32),
                rng.gen_range(0..100_000_000u32)
            ),
        )
    };
    let checkout = Checkout {
        merchant_request_id: merchant_id.clone(),
        amount: request.amount,
        phone: request.phone_number.clone(),
        result: None,
    };
    lock(&inner.checkouts).insert(checkout_id.clone(), checkout);
    let answer = StkPushResponse {
        merchant_request_id: merchant_id,
        checkout_request_id: checkout_id.clone(),
        response_code: "0".into(),
        response_description: "Success. Request accepted for processing".into(),
        customer_message: "Success. Request accepted for processing".into(),
    };
    match fault {
        Some(Fault::CallbackFirst) => {
            settle(&inner, &checkout_id);
            post_callback(&inner, &checkout_id, &request.callback_url).await;
        }
        Some(Fault::Slow(wait)) => {
            tokio::time::sleep(wait).await;
            spawn_outcome(inner.clone(), checkout_id, request.callback_url, true);
        }
        Some(Fault::DropCallback) => {
            spawn_outcome(inner.clone(), checkout_id, request.callback_url, false);
        }
        _ => spawn_outcome(inner.clone(), checkout_id, request.callback_url, true),
    }
    Json(answer).into_response()
}

/// The payer's answer, decided by their number.
fn outcome_for(phone: &str) -> (i64, &'static str) {
    match phone {
        DECLINES => (1032, "Request cancelled by user"),
        INSUFFICIENT => (1, "The balance is insufficient for the transaction"),
        NO_ANSWER => (1037, "DS timeout user cannot be reached"),
        _ => (0, "The service request is processed successfully."),
    }
}

fn settle(inner: &Inner, checkout_id: &str) -> Option<(i64, &'static str)> {
    let mut checkouts = lock(&inner.checkouts);
    let checkout = checkouts.get_mut(checkout_id)?;
    let result = outcome_for(&checkout.phone);
    checkout.result = Some(result);
    Some(result)
}

fn spawn_outcome(inner: Arc<Inner>, checkout_id: String, callback_url: String, send: bool) {
    tokio::spawn(async move {
        tokio::time::sleep(inner.delay).await;
        let Some((code, _)) = settle(&inner, &checkout_id) else {
            return;
        };
        // An unanswered prompt produces no callback: only a status query tells.
        if send && code != 1037 {
            post_callback(&inner, &checkout_id, &callback_url).await;
        }
    });
}

async fn post_callback(inner: &Inner, checkout_id: &str, callback_url: &str) {
    let Some(checkout) = lock(&inner.checkouts).get(checkout_id).cloned() else {
        return;
    };
    let Some((code, desc)) = checkout.result else {
        return;
    };
    let metadata = (code == 0).then(|| {
        let receipt: String = (0..10)
            .map(|i| {
                let mut rng = rand::thread_rng();
                if i < 3 {
                    (b'A' + rng.gen_range(0..26u8)) as char
                } else {
                    let pick = rng.gen_range(0..36u8);
                    if pick < 10 {
                        (b'0' + pick) as char
                    } else {
                        (b'A' + pick - 10) as char
                    }
                }
            })
            .collect();
        let item = |name: &str, value: Option<serde_json::Value>| CallbackItem {
            name: name.into(),
            value,
        };
        CallbackMetadata {
            items: vec![
                item("Amount", Some(serde_json::json!(checkout.amount))),
                item("MpesaReceiptNumber", Some(serde_json::json!(receipt))),
                item("Balance", None),
                item(
                    "TransactionDate",
                    timestamp(crate::platform::db::now_ms())
                        .parse::<u64>()
                        .ok()
                        .map(serde_json::Value::from),
                ),
                item(
                    "PhoneNumber",
                    checkout
                        .phone
                        .parse::<u64>()
                        .ok()
                        .map(serde_json::Value::from),
                ),
            ],
        }
    });
    let envelope = CallbackEnvelope {
        body: CallbackBody {
            stk_callback: StkCallback {
                merchant_request_id: checkout.merchant_request_id.clone(),
                checkout_request_id: checkout_id.to_owned(),
                result_code: code,
                result_desc: desc.into(),
                metadata,
            },
        },
    };
    lock(&inner.seen).callbacks_posted += 1;
    match inner.http.post(callback_url).json(&envelope).send().await {
        Ok(response) => {
            // What a receiver answers is its own business; Daraja only logs it.
            let _ = response.json::<CallbackAnswer>().await;
        }
        Err(_) => tracing::warn!("the M-Pesa simulator could not deliver a callback"),
    }
}

async fn query(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&inner, &headers) {
        return invalid_token();
    }
    let Ok(request) = parse::<StkQueryRequest>(&body) else {
        return bad_request(&inner, "Body");
    };
    if let Err(field) = check_signature(
        &inner,
        &request.business_short_code,
        &request.password,
        &request.timestamp,
    ) {
        return bad_request(&inner, field);
    }
    lock(&inner.seen).queries += 1;
    let Some(checkout) = lock(&inner.checkouts)
        .get(&request.checkout_request_id)
        .cloned()
    else {
        return bad_request(&inner, "CheckoutRequestID");
    };
    match checkout.result {
        None => daraja_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            super::daraja::STILL_PROCESSING,
            "The transaction is being processed",
        ),
        Some((code, desc)) => Json(StkQueryResponse {
            response_code: "0".into(),
            response_description: "The service request has been accepted successsfully".into(),
            merchant_request_id: checkout.merchant_request_id,
            checkout_request_id: request.checkout_request_id,
            result_code: code.to_string(),
            result_desc: desc.into(),
        })
        .into_response(),
    }
}
