//! The few settings the browser needs (the emergency numbers), delivered inside the page.
//!
//! The server writes them into a `<meta name="tabibu-config">` tag of the shell, and the
//! browser reads that tag when it hydrates. Both halves therefore render the same numbers on
//! the first paint, without a request and without JavaScript. Nothing secret goes in here.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The `name` of the meta tag that carries the configuration.
pub const META_NAME: &str = "tabibu-config";

/// Settings that are safe for every visitor to see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicConfig {
    /// The number shown first in every emergency banner (`TABIBU_EMERGENCY_NUMBER`).
    pub emergency_number: String,
    /// Other numbers that also reach emergency services (112 works on Kenyan networks).
    pub other_emergency_numbers: Vec<String>,
}

impl Default for PublicConfig {
    fn default() -> Self {
        PublicConfig {
            emergency_number: "999".into(),
            other_emergency_numbers: vec!["112".into()],
        }
    }
}

/// The public configuration: from the server's context while rendering, from the page's meta
/// tag in the browser, and the defaults where neither is there.
pub fn use_public_config() -> PublicConfig {
    if let Some(config) = use_context::<PublicConfig>() {
        return config;
    }
    let config = read_from_page().unwrap_or_default();
    provide_context(config.clone());
    config
}

#[cfg(feature = "hydrate")]
fn read_from_page() -> Option<PublicConfig> {
    let doc = web_sys::window()?.document()?;
    let meta = doc
        .query_selector(&format!("meta[name=\"{META_NAME}\"]"))
        .ok()??;
    let content = meta.get_attribute("content")?;
    serde_json::from_str(&content).ok()
}

#[cfg(not(feature = "hydrate"))]
fn read_from_page() -> Option<PublicConfig> {
    None
}

/// The meta tag for the shell; rendered on the server only.
#[component]
pub fn PublicConfigMeta(config: PublicConfig) -> impl IntoView {
    let content = serde_json::to_string(&config).unwrap_or_default();
    view! { <meta name=META_NAME content=content /> }
}
