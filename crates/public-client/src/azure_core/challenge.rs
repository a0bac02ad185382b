//! Recovering from a resource's claims challenge (Continuous Access Evaluation, Conditional
//! Access) through azure_core, whose `TokenRequestOptions` cannot carry claims.
//!
//! Two ways, for the two places a challenge shows up:
//!
//! - **Inside a pipeline you build**: give azure_core's `BearerTokenAuthorizationPolicy`
//!   [`ClaimsChallengeHandler`] as its `with_on_challenge` callback. On a `401` with claims it
//!   gets a token with those claims from the entra-rs credential (which then serves that
//!   token to later plain requests) and the policy retries once with it.
//! - **After an Azure SDK client call failed** (the clients' own challenge policies drop the
//!   claims): pass the error to [`refresh_after_challenge`]; when it was a claims challenge the
//!   credential now holds a token with those claims, and calling the client again succeeds.

use std::error::Error as StdError;
use std::sync::Arc;

use async_trait::async_trait;
use azure_core::error::{Error as AzError, ErrorKind as AzErrorKind};
use azure_core::http::headers::{Headers, WWW_AUTHENTICATE};
use azure_core::http::policies::auth::{Authorizer, OnChallenge};
use azure_core::http::{Context, Request, StatusCode};
use entra_core::{TokenCredential, TokenRequestOptions};
use entra_msal_lite::claims_from_challenge;

/// The claims of a `401` response's `WWW-Authenticate` challenge carried by `error` (an Azure
/// SDK client's error: kind `HttpResponse` with the raw response), looking through the
/// error's sources too; `None` when it is not a claims challenge.
#[must_use]
pub fn claims_challenge_of(error: &AzError) -> Option<String> {
    let mut next: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(current) = next {
        if let Some(az) = current.downcast_ref::<AzError>()
            && let AzErrorKind::HttpResponse {
                status: StatusCode::Unauthorized,
                raw_response: Some(response),
                ..
            } = az.kind()
            && let Ok(header) = response.headers().get_str(&WWW_AUTHENTICATE)
        {
            return claims_from_challenge(header);
        }
        next = current.source();
    }
    None
}

/// After an Azure SDK client call failed with a claims challenge (`401` with
/// `WWW-Authenticate: Bearer … claims="…"`), gets a token for `scopes` with those claims from
/// `credential`, so that the same call made again is authorized with it. Returns `false`
/// (and asks for nothing) when `error` is not a claims challenge.
///
/// The credential keeps the new token for later plain requests of the same scopes (as MSAL
/// replaces the cached one), so the client's own bearer policy picks it up once its cached
/// token was dropped: the client drops it on the `401` itself.
///
/// ```no_run
/// use entra_public_client::azure_core::refresh_after_challenge;
///
/// # async fn call_client() -> azure_core::Result<()> { Ok(()) }
/// # async fn run(credential: &dyn entra_core::TokenCredential) -> azure_core::Result<()> {
/// let scopes = ["https://vault.azure.net/.default"];
/// match call_client().await {
///     Err(e) if refresh_after_challenge(credential, &e, &scopes).await? => call_client().await,
///     other => other,
/// }
/// # }
/// ```
///
/// # Errors
/// The credential's error when it cannot get a token with the claims (for an interactive
/// credential this may mean signing in again).
pub async fn refresh_after_challenge<C: TokenCredential + ?Sized>(
    credential: &C,
    error: &AzError,
    scopes: &[&str],
) -> entra_core::Result<bool> {
    let Some(claims) = claims_challenge_of(error) else {
        return Ok(false);
    };
    tracing::debug!(
        target: "entra_public_client::azure_core",
        ?scopes,
        "claims challenge: getting a token with the resource's claims"
    );
    credential
        .get_token_info(
            scopes,
            Some(TokenRequestOptions::default().with_claims(claims)),
        )
        .await?;
    Ok(true)
}

/// azure_core's `OnChallenge` callback for `BearerTokenAuthorizationPolicy::with_on_challenge`:
/// on a `401` whose challenge carries claims, gets a token with them from the entra-rs
/// credential, then authorizes the retry (the credential now serves the new token). A
/// challenge without claims re-authorizes as usual, and the service's answer to the retry
/// stands.
///
/// ```
/// use std::sync::Arc;
///
/// use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
/// use entra_public_client::azure_core::{AzureCoreCredential, ClaimsChallengeHandler};
///
/// fn policy(credential: Arc<dyn entra_core::TokenCredential>) -> BearerTokenAuthorizationPolicy {
///     let scopes = ["https://management.azure.com/.default"];
///     BearerTokenAuthorizationPolicy::new(AzureCoreCredential::new(credential.clone()), scopes)
///         .with_on_challenge(ClaimsChallengeHandler::new(credential, scopes))
/// }
/// ```
#[derive(Debug)]
pub struct ClaimsChallengeHandler {
    credential: Arc<dyn TokenCredential>,
    scopes: Vec<String>,
}

impl ClaimsChallengeHandler {
    /// A handler getting tokens for `scopes` (the policy's own) from `credential` (the one
    /// the policy's azure_core credential wraps).
    pub fn new<I, S>(credential: Arc<dyn TokenCredential>, scopes: I) -> Arc<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Arc::new(Self {
            credential,
            scopes: scopes.into_iter().map(Into::into).collect(),
        })
    }
}

#[async_trait]
impl OnChallenge for ClaimsChallengeHandler {
    // Written as the trait writes it: `Context<'_>` would make async_trait's lifetimes differ
    // from the trait's (E0195).
    #[allow(elided_lifetimes_in_paths)]
    async fn on_challenge(
        &self,
        _context: &Context,
        request: &mut Request,
        authorizer: &dyn Authorizer,
        headers: &Headers,
    ) -> azure_core::Result<()> {
        let scopes: Vec<&str> = self.scopes.iter().map(String::as_str).collect();
        if let Some(claims) = headers
            .get_str(&WWW_AUTHENTICATE)
            .ok()
            .and_then(claims_from_challenge)
        {
            tracing::debug!(
                target: "entra_public_client::azure_core",
                ?scopes,
                "claims challenge: getting a token with the resource's claims"
            );
            self.credential
                .get_token_info(
                    &scopes,
                    Some(TokenRequestOptions::default().with_claims(claims)),
                )
                .await?;
        }
        authorizer
            .authorize(
                request,
                &scopes,
                azure_core::credentials::TokenRequestOptions::default(),
            )
            .await
    }
}
