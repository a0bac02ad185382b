//! The credential in a program: sign in once, save the record, and let later runs get
//! tokens silently from the persistent cache the Azure Identity SDKs share.
//!
//! ```text
//! cargo run -p entra-browser-flow --example sign_in -- https://graph.microsoft.com/.default
//! ```
//!
//! The `entra` command (`crates/cli`) is the full tool built on the same calls.

use std::path::PathBuf;

use entra_browser_flow::{
    InteractiveBrowserCredential, InteractiveBrowserCredentialOptions, TokenCachePersistenceOptions,
};
use entra_core::{AuthenticationRecord, ErrorKind, TokenRequestOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scope = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "https://graph.microsoft.com/.default".to_owned());
    let record_path = PathBuf::from("entra-sign-in-record.json");

    // The shared encrypted cache (Secret Service, Keychain or DPAPI), and the account of an
    // earlier run, if there was one.
    let mut options = InteractiveBrowserCredentialOptions::default()
        .with_cache_persistence_options(TokenCachePersistenceOptions::default());
    if let Ok(text) = std::fs::read_to_string(&record_path) {
        options = options.with_authentication_record(AuthenticationRecord::deserialize(&text)?);
    }
    let credential = InteractiveBrowserCredential::new(options)?;

    // Silent when the cache holds a token or a refresh token; else the browser opens once.
    let request = TokenRequestOptions::default();
    let token = match credential.get_token(&[&scope], Some(request)).await {
        Ok(token) => token,
        Err(e) if matches!(e.kind(), ErrorKind::CredentialUnavailable) => {
            eprintln!("No browser here; try `entra get-token --device-code`: {e}");
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    println!("got a token for {scope}, valid until {}", token.expires_on);

    // Save who signed in, so that the next run is silent.
    if let Some(record) = credential.authentication_record() {
        std::fs::write(&record_path, record.serialize())?;
        println!(
            "signed in as {} (tenant {}); record saved to {}",
            record.username(),
            record.tenant_id(),
            record_path.display()
        );
    }
    Ok(())
}
