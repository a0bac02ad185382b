//! [`MockError`]: why the mock could not start or build a client.

/// The mock could not start, or a client for it could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MockError {
    /// Binding the listening socket on 127.0.0.1 failed.
    #[error("the mock Entra ID server could not listen on 127.0.0.1")]
    Bind(#[source] std::io::Error),
    /// Generating the TLS certificate or configuring TLS failed.
    #[error("the mock Entra ID server could not set up TLS: {0}")]
    Tls(String),
    /// Generating or using the token signing key failed.
    #[error("the mock Entra ID token signing key failed: {0}")]
    Key(String),
    /// Building an HTTP client for the mock failed.
    #[error("an HTTP client for the mock Entra ID server could not be built")]
    HttpClient(#[source] reqwest::Error),
    /// A token given to [`MockEntra::verify_token`](crate::MockEntra::verify_token) is not one
    /// this mock signed, or is malformed.
    #[error("the token was not signed by this mock Entra ID: {0}")]
    InvalidToken(String),
    /// The builder was given a contradictory or unusable setting.
    #[error("invalid mock Entra ID configuration: {0}")]
    Config(String),
}
