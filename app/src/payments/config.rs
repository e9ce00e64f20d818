//! The payments settings (`TABIBU_CONSULTATION_FEE_KES`, `TABIBU_PAYMENTS_PROVIDER`,
//! `TABIBU_MPESA_*`), read with the rest of the configuration. Every variable is documented in
//! `.env.example`; secrets print as `[redacted]`.

use crate::platform::ConfigError;
use ipnet::IpNet;
use secrecy::SecretString;
use std::time::Duration;

/// Where STK pushes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// An in-process Daraja look-alike on a loopback port: the whole flow works offline.
    Simulator,
    /// Safaricom's sandbox (`https://sandbox.safaricom.co.ke`).
    DarajaSandbox,
    /// Safaricom's production API (`https://api.safaricom.co.ke`).
    Daraja,
}

impl ProviderKind {
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::Simulator => "simulator",
            ProviderKind::DarajaSandbox => "daraja-sandbox",
            ProviderKind::Daraja => "daraja",
        }
    }

    fn base_url(self) -> Option<&'static str> {
        match self {
            ProviderKind::Simulator => None,
            ProviderKind::DarajaSandbox => Some("https://sandbox.safaricom.co.ke"),
            ProviderKind::Daraja => Some("https://api.safaricom.co.ke"),
        }
    }
}

/// Everything the payments feature needs.
#[derive(Debug, Clone)]
pub struct PaymentsConfig {
    /// What a consultation costs in whole KES; 0 makes consultations free (no payment step).
    pub fee_kes: u32,
    pub provider: ProviderKind,
    /// Daraja's address; `None` for the simulator, which picks its own port at start.
    pub base_url: Option<String>,
    pub consumer_key: SecretString,
    pub consumer_secret: SecretString,
    /// The paybill or till number payments go to (`BusinessShortCode`, `PartyB`).
    pub shortcode: String,
    pub passkey: SecretString,
    /// Where M-Pesa posts the result; `None` means `{TABIBU_PUBLIC_URL}/api/payments/mpesa/callback`.
    pub callback_url: Option<String>,
    /// When not empty, callbacks are accepted only from these ranges.
    pub callback_allowed: Vec<IpNet>,
    /// How long one Daraja call may take.
    pub timeout: Duration,
    /// How long the simulator waits before its callback.
    pub simulator_delay: Duration,
}

/// The path M-Pesa posts STK results to.
pub const CALLBACK_PATH: &str = "/api/payments/mpesa/callback";

impl PaymentsConfig {
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        production: bool,
    ) -> Result<PaymentsConfig, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let fee_kes = number("TABIBU_CONSULTATION_FEE_KES", get, 0, 0..=150_000)?;
        let provider = match get("TABIBU_PAYMENTS_PROVIDER").as_deref() {
            None | Some("simulator") => ProviderKind::Simulator,
            Some("daraja-sandbox") => ProviderKind::DarajaSandbox,
            Some("daraja") => ProviderKind::Daraja,
            Some(other) => {
                return Err(invalid(
                    "TABIBU_PAYMENTS_PROVIDER",
                    format!("expected `simulator`, `daraja-sandbox` or `daraja`, got `{other}`"),
                ));
            }
        };
        if production && fee_kes > 0 && provider == ProviderKind::Simulator {
            // The simulator says "paid" without any money moving.
            return Err(invalid(
                "TABIBU_PAYMENTS_PROVIDER",
                "the simulator cannot take real fees in production; choose `daraja` (or set \
                 TABIBU_CONSULTATION_FEE_KES=0)"
                    .into(),
            ));
        }
        let base_url = match get("TABIBU_MPESA_BASE_URL") {
            Some(url) => Some(http_url("TABIBU_MPESA_BASE_URL", &url)?),
            None => provider.base_url().map(str::to_owned),
        };
        let real = provider != ProviderKind::Simulator;
        let secret = |name: &'static str| -> Result<SecretString, ConfigError> {
            match get(name) {
                Some(v) => Ok(SecretString::from(v)),
                None if real => Err(invalid(
                    name,
                    format!(
                        "required when TABIBU_PAYMENTS_PROVIDER is `{}`",
                        provider.name()
                    ),
                )),
                // The simulator checks the same password formula with these stand-ins.
                None => Ok(SecretString::from(format!("simulator-{}", name.len()))),
            }
        };
        let consumer_key = secret("TABIBU_MPESA_CONSUMER_KEY")?;
        let consumer_secret = secret("TABIBU_MPESA_CONSUMER_SECRET")?;
        let passkey = secret("TABIBU_MPESA_PASSKEY")?;
        let shortcode = match get("TABIBU_MPESA_SHORTCODE") {
            Some(code)
                if (5..=7).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit()) =>
            {
                code
            }
            Some(code) => {
                return Err(invalid(
                    "TABIBU_MPESA_SHORTCODE",
                    format!("expected a paybill or till number of 5 to 7 digits, got `{code}`"),
                ));
            }
            None if real => {
                return Err(invalid(
                    "TABIBU_MPESA_SHORTCODE",
                    format!(
                        "required when TABIBU_PAYMENTS_PROVIDER is `{}`",
                        provider.name()
                    ),
                ));
            }
            None => "600000".to_owned(),
        };
        let callback_url = match get("TABIBU_MPESA_CALLBACK_URL") {
            Some(url) => Some(http_url("TABIBU_MPESA_CALLBACK_URL", &url)?),
            None => None,
        };
        if production
            && real
            && callback_url
                .as_deref()
                .is_some_and(|u| !u.starts_with("https://"))
        {
            return Err(invalid(
                "TABIBU_MPESA_CALLBACK_URL",
                "M-Pesa posts results only to https:// addresses".into(),
            ));
        }
        let callback_allowed = match get("TABIBU_MPESA_CALLBACK_ALLOWED_IPS") {
            None => Vec::new(),
            Some(list) => {
                crate::platform::config::ip_ranges("TABIBU_MPESA_CALLBACK_ALLOWED_IPS", &list)?
            }
        };
        Ok(PaymentsConfig {
            fee_kes,
            provider,
            base_url,
            consumer_key,
            consumer_secret,
            shortcode,
            passkey,
            callback_url,
            callback_allowed,
            timeout: Duration::from_secs(u64::from(number(
                "TABIBU_MPESA_TIMEOUT_SECS",
                get,
                15,
                1..=60,
            )?)),
            simulator_delay: Duration::from_millis(u64::from(number(
                "TABIBU_MPESA_SIMULATOR_DELAY_MS",
                get,
                2_000,
                0..=600_000,
            )?)),
        })
    }

    /// The callback address sent with each STK push.
    pub fn callback_url(&self, public_url: &str) -> String {
        self.callback_url
            .clone()
            .unwrap_or_else(|| format!("{public_url}{CALLBACK_PATH}"))
    }
}

fn invalid(variable: &'static str, problem: String) -> ConfigError {
    ConfigError { variable, problem }
}

fn number(
    variable: &'static str,
    get: impl Fn(&str) -> Option<String>,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ConfigError> {
    match get(variable) {
        None => Ok(default),
        Some(v) => match v.parse::<u32>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(invalid(
                variable,
                format!(
                    "expected a whole number from {} to {}, got `{v}`",
                    range.start(),
                    range.end()
                ),
            )),
        },
    }
}

fn http_url(variable: &'static str, url: &str) -> Result<String, ConfigError> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(url.trim_end_matches('/').to_owned())
    } else {
        Err(invalid(
            variable,
            format!("expected an address starting with https:// or http://, got `{url}`"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)], production: bool) -> Result<PaymentsConfig, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        PaymentsConfig::from_lookup(
            |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
            production,
        )
    }

    #[test]
    fn defaults_are_free_consultations_and_the_simulator() {
        let c = config(&[], false).unwrap();
        assert_eq!(c.fee_kes, 0);
        assert_eq!(c.provider, ProviderKind::Simulator);
        assert_eq!(c.base_url, None);
        assert_eq!(
            c.callback_url("https://tabibu.example"),
            "https://tabibu.example/api/payments/mpesa/callback"
        );
    }

    #[test]
    fn daraja_needs_its_credentials_and_names_the_missing_one() {
        let err = config(&[("TABIBU_PAYMENTS_PROVIDER", "daraja")], false).unwrap_err();
        assert_eq!(err.variable, "TABIBU_MPESA_CONSUMER_KEY");
        let ok = config(
            &[
                ("TABIBU_PAYMENTS_PROVIDER", "daraja-sandbox"),
                ("TABIBU_MPESA_CONSUMER_KEY", "k"),
                ("TABIBU_MPESA_CONSUMER_SECRET", "s"),
                ("TABIBU_MPESA_PASSKEY", "p"),
                ("TABIBU_MPESA_SHORTCODE", "174379"),
            ],
            false,
        )
        .unwrap();
        assert_eq!(
            ok.base_url.as_deref(),
            Some("https://sandbox.safaricom.co.ke")
        );
        assert!(!format!("{ok:?}").contains("\"p\""));
    }

    #[test]
    fn the_simulator_cannot_take_fees_in_production() {
        let err = config(&[("TABIBU_CONSULTATION_FEE_KES", "500")], true).unwrap_err();
        assert_eq!(err.variable, "TABIBU_PAYMENTS_PROVIDER");
        assert!(
            config(&[], true).is_ok(),
            "free consultations need no provider"
        );
    }

    #[test]
    fn bad_values_are_named() {
        for (var, value) in [
            ("TABIBU_CONSULTATION_FEE_KES", "12.50"),
            ("TABIBU_CONSULTATION_FEE_KES", "-1"),
            ("TABIBU_PAYMENTS_PROVIDER", "paypal"),
            ("TABIBU_MPESA_SHORTCODE", "12ab"),
            (
                "TABIBU_MPESA_CALLBACK_ALLOWED_IPS",
                "196.201.214.0/24,nowhere",
            ),
            ("TABIBU_MPESA_CALLBACK_URL", "ftp://x"),
            ("TABIBU_MPESA_TIMEOUT_SECS", "0"),
        ] {
            let err = config(&[(var, value)], false).unwrap_err();
            assert_eq!(err.variable, var, "{var}={value}");
        }
    }
}
