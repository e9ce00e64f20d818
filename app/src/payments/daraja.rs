//! Safaricom's Daraja API as Tabibu uses it: the OAuth token, Lipa na M-Pesa Online ("STK
//! push"), its status query, and the callback M-Pesa posts back. The wire types here are the
//! JSON Daraja speaks, field for field; [`super::simulator`] answers the same shapes.
//!
//! The client never retries an STK push on its own (a second push is a second prompt on the
//! payer's phone), except once after an expired-token answer, which Daraja gives before doing
//! anything. Nothing here logs a phone number, token or secret: errors carry Daraja's error
//! code (e.g. `404.001.03`) and HTTP status only.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Daraja's error code for an access token it no longer accepts.
pub const INVALID_TOKEN: &str = "404.001.03";
/// Daraja's error code, on a status query, for "the payer has not answered yet".
pub const STILL_PROCESSING: &str = "500.001.1001";
/// A token is renewed this long before Daraja says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// `POST /mpesa/stkpush/v1/processrequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StkPushRequest {
    #[serde(rename = "BusinessShortCode")]
    pub business_short_code: String,
    /// base64(shortcode + passkey + timestamp).
    #[serde(rename = "Password")]
    pub password: String,
    /// `YYYYMMDDHHmmss`, East Africa Time.
    #[serde(rename = "Timestamp")]
    pub timestamp: String,
    #[serde(rename = "TransactionType")]
    pub transaction_type: String,
    /// Whole shillings.
    #[serde(rename = "Amount")]
    pub amount: u64,
    /// The payer, `2547XXXXXXXX`.
    #[serde(rename = "PartyA")]
    pub party_a: String,
    /// The paybill receiving the money.
    #[serde(rename = "PartyB")]
    pub party_b: String,
    #[serde(rename = "PhoneNumber")]
    pub phone_number: String,
    #[serde(rename = "CallBackURL")]
    pub callback_url: String,
    /// Shown to the payer; at most 12 characters.
    #[serde(rename = "AccountReference")]
    pub account_reference: String,
    /// At most 13 characters.
    #[serde(rename = "TransactionDesc")]
    pub transaction_desc: String,
}

/// Daraja's answer to an accepted STK push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StkPushResponse {
    #[serde(rename = "MerchantRequestID")]
    pub merchant_request_id: String,
    #[serde(rename = "CheckoutRequestID")]
    pub checkout_request_id: String,
    #[serde(rename = "ResponseCode")]
    pub response_code: String,
    #[serde(rename = "ResponseDescription", default)]
    pub response_description: String,
    #[serde(rename = "CustomerMessage", default)]
    pub customer_message: String,
}

/// `POST /mpesa/stkpushquery/v1/query`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StkQueryRequest {
    #[serde(rename = "BusinessShortCode")]
    pub business_short_code: String,
    #[serde(rename = "Password")]
    pub password: String,
    #[serde(rename = "Timestamp")]
    pub timestamp: String,
    #[serde(rename = "CheckoutRequestID")]
    pub checkout_request_id: String,
}

/// Daraja's answer to a status query of a finished push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StkQueryResponse {
    #[serde(rename = "ResponseCode")]
    pub response_code: String,
    #[serde(rename = "ResponseDescription", default)]
    pub response_description: String,
    #[serde(rename = "MerchantRequestID", default)]
    pub merchant_request_id: String,
    #[serde(rename = "CheckoutRequestID")]
    pub checkout_request_id: String,
    /// Daraja sends it as a string; some gateways as a number.
    #[serde(rename = "ResultCode", deserialize_with = "code_as_string")]
    pub result_code: String,
    #[serde(rename = "ResultDesc", default)]
    pub result_desc: String,
}

/// What Daraja says when it refuses a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "requestId", default)]
    pub request_id: String,
    #[serde(rename = "errorCode")]
    pub error_code: String,
    #[serde(rename = "errorMessage", default)]
    pub error_message: String,
}

/// `GET /oauth/v1/generate?grant_type=client_credentials`.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// Seconds; Daraja sends a string (`"3599"`).
    #[serde(deserialize_with = "code_as_string")]
    pub expires_in: String,
}

/// The JSON M-Pesa posts to the callback address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallbackEnvelope {
    #[serde(rename = "Body")]
    pub body: CallbackBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallbackBody {
    #[serde(rename = "stkCallback")]
    pub stk_callback: StkCallback,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StkCallback {
    #[serde(rename = "MerchantRequestID")]
    pub merchant_request_id: String,
    #[serde(rename = "CheckoutRequestID")]
    pub checkout_request_id: String,
    #[serde(rename = "ResultCode")]
    pub result_code: i64,
    #[serde(rename = "ResultDesc", default)]
    pub result_desc: String,
    #[serde(
        rename = "CallbackMetadata",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub metadata: Option<CallbackMetadata>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallbackMetadata {
    #[serde(rename = "Item", default)]
    pub items: Vec<CallbackItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallbackItem {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Value", default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
}

impl StkCallback {
    fn item(&self, name: &str) -> Option<&serde_json::Value> {
        self.metadata
            .as_ref()?
            .items
            .iter()
            .find(|i| i.name == name)?
            .value
            .as_ref()
    }

    /// The amount paid, when the callback says and it is a whole number of shillings.
    pub fn amount(&self) -> Option<u64> {
        match self.item("Amount")? {
            serde_json::Value::Number(n) => n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            }),
            serde_json::Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64),
            _ => None,
        }
    }

    /// The M-Pesa receipt number, when it has the usual form (letters and digits).
    pub fn receipt(&self) -> Option<String> {
        let receipt = self.item("MpesaReceiptNumber")?.as_str()?.trim();
        let ok = (6..=20).contains(&receipt.len())
            && receipt
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        ok.then(|| receipt.to_owned())
    }
}

/// The answer Daraja expects from a callback receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackAnswer {
    #[serde(rename = "ResultCode")]
    pub result_code: i64,
    #[serde(rename = "ResultDesc")]
    pub result_desc: String,
}

impl CallbackAnswer {
    pub fn accepted() -> CallbackAnswer {
        CallbackAnswer {
            result_code: 0,
            result_desc: "Accepted".into(),
        }
    }

    pub fn rejected(why: &str) -> CallbackAnswer {
        CallbackAnswer {
            result_code: 1,
            result_desc: format!("Rejected: {why}"),
        }
    }
}

fn code_as_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        _ => Err(serde::de::Error::custom("expected a string or a number")),
    }
}

/// `YYYYMMDDHHmmss` in East Africa Time (UTC+3, no daylight saving), as Daraja wants it.
pub fn timestamp(now_ms: i64) -> String {
    let eat = now_ms + 3 * 3_600_000;
    let (y, m, d) = crate::accounts::validate::civil_date(eat);
    let secs_of_day = eat.rem_euclid(86_400_000) / 1000;
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        secs_of_day / 3600,
        secs_of_day % 3600 / 60,
        secs_of_day % 60
    )
}

/// The STK password: base64 of shortcode, passkey and timestamp, run together.
pub fn password(shortcode: &str, passkey: &str, timestamp: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{shortcode}{passkey}{timestamp}"))
}

/// Why a Daraja call did not give an answer to act on. `Display` carries codes only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DarajaError {
    /// Could not connect, or the connection broke: nothing was asked.
    #[error("Daraja could not be reached")]
    Unreachable,
    /// No answer in time: the request may or may not have been acted on.
    #[error("Daraja did not answer in time")]
    Timeout,
    /// Daraja answered with a server error (HTTP 5xx).
    #[error("Daraja answered HTTP {status} ({code})")]
    ServerError { status: u16, code: String },
    /// Daraja refused the request (HTTP 4xx or a non-zero ResponseCode).
    #[error("Daraja refused the request: HTTP {status} ({code})")]
    Refused { status: u16, code: String },
    /// The credentials were refused when asking for a token.
    #[error("Daraja refused the credentials: HTTP {status}")]
    Credentials { status: u16 },
    /// An answer that is not Daraja's JSON.
    #[error("Daraja's answer could not be read")]
    BadAnswer,
}

impl DarajaError {
    /// The short code stored with a failed payment.
    pub fn code(&self) -> &'static str {
        match self {
            DarajaError::Unreachable => "provider_unreachable",
            DarajaError::Timeout => "provider_timeout",
            DarajaError::ServerError { .. } => "provider_error",
            DarajaError::Refused { .. } => "provider_refused",
            DarajaError::Credentials { .. } => "provider_credentials",
            DarajaError::BadAnswer => "provider_bad_answer",
        }
    }
}

/// What a status query found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryAnswer {
    /// The payer has not answered yet.
    Processing,
    /// Finished with M-Pesa's ResultCode (0 = paid).
    Finished { result_code: i64 },
}

/// One push to ask for.
#[derive(Clone)]
pub struct StkPush {
    pub amount_kes: u64,
    /// `2547XXXXXXXX` or `2541XXXXXXXX`.
    pub phone: String,
    pub callback_url: String,
    pub account_reference: String,
    pub description: String,
}

impl std::fmt::Debug for StkPush {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StkPush")
            .field("amount_kes", &self.amount_kes)
            .finish_non_exhaustive()
    }
}

struct CachedToken {
    value: SecretString,
    renew_at: Instant,
}

/// A Daraja client: one per process, shared. The token is cached until shortly before it
/// expires; concurrent callers wait for one refresh instead of each asking for a token.
pub struct DarajaClient {
    http: reqwest::Client,
    base_url: String,
    consumer_key: SecretString,
    consumer_secret: SecretString,
    shortcode: String,
    passkey: SecretString,
    token: tokio::sync::Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for DarajaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DarajaClient")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl DarajaClient {
    pub fn new(
        base_url: &str,
        consumer_key: SecretString,
        consumer_secret: SecretString,
        shortcode: &str,
        passkey: SecretString,
        timeout: Duration,
    ) -> Result<DarajaClient, DarajaError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|_| DarajaError::Unreachable)?;
        Ok(DarajaClient {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            consumer_key,
            consumer_secret,
            shortcode: shortcode.to_owned(),
            passkey,
            token: tokio::sync::Mutex::new(None),
        })
    }

    pub fn shortcode(&self) -> &str {
        &self.shortcode
    }

    /// A valid access token, from the cache or freshly asked for (once, however many callers
    /// wait for it).
    async fn token(&self) -> Result<SecretString, DarajaError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref()
            && token.renew_at > Instant::now()
        {
            return Ok(token.value.clone());
        }
        let response = self
            .http
            .get(format!("{}/oauth/v1/generate", self.base_url))
            .query(&[("grant_type", "client_credentials")])
            .basic_auth(
                self.consumer_key.expose_secret(),
                Some(self.consumer_secret.expose_secret()),
            )
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if status.is_server_error() {
            return Err(DarajaError::ServerError {
                status: status.as_u16(),
                code: "token".into(),
            });
        }
        if !status.is_success() {
            return Err(DarajaError::Credentials {
                status: status.as_u16(),
            });
        }
        let body: TokenResponse = response.json().await.map_err(|_| DarajaError::BadAnswer)?;
        let lifetime = body
            .expires_in
            .trim()
            .parse::<u64>()
            .map_err(|_| DarajaError::BadAnswer)?;
        let value = SecretString::from(body.access_token);
        *cached = Some(CachedToken {
            value: value.clone(),
            renew_at: Instant::now() + Duration::from_secs(lifetime).saturating_sub(TOKEN_MARGIN),
        });
        Ok(value)
    }

    /// Forgets `stale` (Daraja refused it), unless another caller already replaced it.
    async fn forget(&self, stale: &SecretString) {
        let mut cached = self.token.lock().await;
        if cached
            .as_ref()
            .is_some_and(|t| t.value.expose_secret() == stale.expose_secret())
        {
            *cached = None;
        }
    }

    /// Posts `body` to `path` with a token; once more with a new token if Daraja says the token
    /// expired. Returns the status and the raw body.
    async fn post<T: Serialize>(
        &self,
        path: &str,
        body: &T,
    ) -> Result<(u16, Vec<u8>), DarajaError> {
        for attempt in 0..2 {
            let token = self.token().await?;
            let response = self
                .http
                .post(format!("{}{path}", self.base_url))
                .bearer_auth(token.expose_secret())
                .json(body)
                .send()
                .await
                .map_err(transport)?;
            let status = response.status().as_u16();
            let bytes = response.bytes().await.map_err(transport)?.to_vec();
            let expired = status == 401
                || serde_json::from_slice::<ErrorBody>(&bytes)
                    .is_ok_and(|e| e.error_code == INVALID_TOKEN);
            if expired && attempt == 0 {
                self.forget(&token).await;
                continue;
            }
            return Ok((status, bytes));
        }
        Err(DarajaError::Refused {
            status: 401,
            code: INVALID_TOKEN.into(),
        })
    }

    fn signed(&self, now_ms: i64) -> (String, String) {
        let timestamp = timestamp(now_ms);
        let password = password(&self.shortcode, self.passkey.expose_secret(), &timestamp);
        (timestamp, password)
    }

    /// Asks M-Pesa to prompt the payer's phone. Ok means the prompt was sent; the result comes
    /// later, by callback or [`DarajaClient::stk_query`].
    pub async fn stk_push(
        &self,
        push: &StkPush,
        now_ms: i64,
    ) -> Result<StkPushResponse, DarajaError> {
        let (timestamp, password) = self.signed(now_ms);
        let request = StkPushRequest {
            business_short_code: self.shortcode.clone(),
            password,
            timestamp,
            transaction_type: "CustomerPayBillOnline".into(),
            amount: push.amount_kes,
            party_a: push.phone.clone(),
            party_b: self.shortcode.clone(),
            phone_number: push.phone.clone(),
            callback_url: push.callback_url.clone(),
            account_reference: push.account_reference.chars().take(12).collect(),
            transaction_desc: push.description.chars().take(13).collect(),
        };
        let (status, bytes) = self
            .post("/mpesa/stkpush/v1/processrequest", &request)
            .await?;
        if (200..300).contains(&status) {
            let answer: StkPushResponse =
                serde_json::from_slice(&bytes).map_err(|_| DarajaError::BadAnswer)?;
            if answer.response_code.trim() != "0" || answer.checkout_request_id.is_empty() {
                return Err(DarajaError::Refused {
                    status,
                    code: format!("ResponseCode {}", short(&answer.response_code)),
                });
            }
            return Ok(answer);
        }
        Err(refusal(status, &bytes))
    }

    /// Asks how the push `checkout_request_id` ended.
    pub async fn stk_query(
        &self,
        checkout_request_id: &str,
        now_ms: i64,
    ) -> Result<QueryAnswer, DarajaError> {
        let (timestamp, password) = self.signed(now_ms);
        let request = StkQueryRequest {
            business_short_code: self.shortcode.clone(),
            password,
            timestamp,
            checkout_request_id: checkout_request_id.to_owned(),
        };
        let (status, bytes) = self.post("/mpesa/stkpushquery/v1/query", &request).await?;
        if (200..300).contains(&status) {
            let answer: StkQueryResponse =
                serde_json::from_slice(&bytes).map_err(|_| DarajaError::BadAnswer)?;
            let result_code = answer
                .result_code
                .trim()
                .parse()
                .map_err(|_| DarajaError::BadAnswer)?;
            return Ok(QueryAnswer::Finished { result_code });
        }
        if serde_json::from_slice::<ErrorBody>(&bytes)
            .is_ok_and(|e| e.error_code == STILL_PROCESSING)
        {
            return Ok(QueryAnswer::Processing);
        }
        Err(refusal(status, &bytes))
    }
}

fn transport(err: reqwest::Error) -> DarajaError {
    if err.is_timeout() {
        DarajaError::Timeout
    } else if err.is_decode() {
        DarajaError::BadAnswer
    } else {
        DarajaError::Unreachable
    }
}

fn refusal(status: u16, bytes: &[u8]) -> DarajaError {
    let code = serde_json::from_slice::<ErrorBody>(bytes)
        .map(|e| short(&e.error_code))
        .unwrap_or_else(|_| "no error code".into());
    if status >= 500 {
        DarajaError::ServerError { status, code }
    } else {
        DarajaError::Refused { status, code }
    }
}

/// An error code fit for a log line: short, and only the characters codes are made of.
fn short(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .take(24)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timestamp_is_east_africa_time() {
        // 2026-12-04T21:30:05Z is 00:30:05 on the 5th in Nairobi.
        let ms = 1_796_419_805_000;
        assert_eq!(timestamp(ms), "20261205003005");
    }

    #[test]
    fn the_password_is_base64_of_the_three_parts() {
        use base64::Engine;
        let p = password("174379", "passkey", "20261205003005");
        let raw = base64::engine::general_purpose::STANDARD.decode(p).unwrap();
        assert_eq!(raw, b"174379passkey20261205003005");
    }

    #[test]
    fn a_callback_parses_with_numbers_or_strings() {
        let body = r#"{"Body":{"stkCallback":{"MerchantRequestID":"1-2-1","CheckoutRequestID":"ws_CO_1",
            "ResultCode":0,"ResultDesc":"ok","CallbackMetadata":{"Item":[{"Name":"Amount","Value":500.00},
            {"Name":"MpesaReceiptNumber","Value":"TLK3AB12CD"},{"Name":"Balance"},
            {"Name":"TransactionDate","Value":20261204101010},{"Name":"PhoneNumber","Value":254712345678}]}}}}"#;
        let cb: CallbackEnvelope = serde_json::from_str(body).unwrap();
        assert_eq!(cb.body.stk_callback.amount(), Some(500));
        assert_eq!(
            cb.body.stk_callback.receipt().as_deref(),
            Some("TLK3AB12CD")
        );
        let fractional = body.replace("500.00", "499.5");
        let cb: CallbackEnvelope = serde_json::from_str(&fractional).unwrap();
        assert_eq!(cb.body.stk_callback.amount(), None);
    }

    #[test]
    fn a_declined_callback_has_no_metadata() {
        let body = r#"{"Body":{"stkCallback":{"MerchantRequestID":"1","CheckoutRequestID":"ws_CO_2",
            "ResultCode":1032,"ResultDesc":"Request cancelled by user"}}}"#;
        let cb: CallbackEnvelope = serde_json::from_str(body).unwrap();
        assert_eq!(cb.body.stk_callback.result_code, 1032);
        assert_eq!(cb.body.stk_callback.amount(), None);
        assert_eq!(cb.body.stk_callback.receipt(), None);
    }

    #[test]
    fn the_push_request_uses_darajas_field_names() {
        let request = StkPushRequest {
            business_short_code: "600000".into(),
            password: "cA==".into(),
            timestamp: "20261204101010".into(),
            transaction_type: "CustomerPayBillOnline".into(),
            amount: 500,
            party_a: "254712345678".into(),
            party_b: "600000".into(),
            phone_number: "254712345678".into(),
            callback_url: "https://x.example/cb".into(),
            account_reference: "TABIBU".into(),
            transaction_desc: "Consultation".into(),
        };
        let json = serde_json::to_value(&request).unwrap();
        for field in [
            "BusinessShortCode",
            "Password",
            "Timestamp",
            "TransactionType",
            "Amount",
            "PartyA",
            "PartyB",
            "PhoneNumber",
            "CallBackURL",
            "AccountReference",
            "TransactionDesc",
        ] {
            assert!(json.get(field).is_some(), "{field}");
        }
        assert_eq!(json["Amount"], 500);
    }
}
