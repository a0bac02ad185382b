//! An application's own token with entra-msal-lite alone: the client-credentials grant with
//! a certificate (RFC 7523 assertion, as MSAL signs it), against the mock Entra ID on
//! 127.0.0.1 (no internet). Run: `cargo run -p entra-msal-lite --example app_token --features certificate`.
//!
//! Against Entra ID, the authority is `https://login.microsoftonline.com/<tenant>` and the
//! certificate one registered on the application; the rest is the same.

use std::sync::Arc;

use entra_msal_lite::{
    Authority, AuthorityOptions, ClientCertificate, ClientCredential, ClientCredentialsGrant,
    EndpointResolver, TokenClient,
};
use entra_testing::{ConfidentialApp, DEFAULT_TENANT_ID, MockEntra, TestCertificate};

const APP: &str = "11111111-0000-4000-8000-000000000002";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The stand-in for Entra ID, with the application and its certificate registered.
    let registered = TestCertificate::generate("orders-daemon")?;
    let mock = MockEntra::builder()
        .confidential_app(ConfidentialApp::with_certificate(APP, &registered))
        .start()
        .await?;

    // What an application does: its certificate and key, the authority, one grant.
    let certificate =
        ClientCertificate::from_pem(registered.certificate_pem(), registered.private_key_pem())?;
    println!("certificate x5t#S256: {}", certificate.thumbprint_sha256());
    let client = TokenClient::new(mock.http_client());
    let authority = Authority::parse_with(
        &mock.authority(DEFAULT_TENANT_ID),
        &AuthorityOptions::default().with_disable_instance_discovery(true),
    )?;
    let endpoints = EndpointResolver::new(client.clone())
        .resolve(&authority)
        .await?;
    let grant = ClientCredentialsGrant::new(
        APP,
        ClientCredential::Certificate(Arc::new(certificate)),
        &["api://orders/.default"],
    );
    let response = client.acquire_for_client(&endpoints, &grant).await?;
    println!(
        "app token for api://orders, expires on {} ({} characters)",
        response.expires_on,
        response.access_token.secret().len()
    );
    Ok(())
}
