//! Use an entra-rs credential wherever the Azure SDK for Rust takes an
//! `Arc<dyn azure_core::credentials::TokenCredential>` (cargo feature `azure_core`).
//!
//! [`PublicClient<S>`](crate::PublicClient) and every credential over it
//! (`InteractiveBrowserCredential`, `DeviceCodeCredential`) implements
//! [`azure_core::credentials::TokenCredential`] itself when its `azure_core` feature is on, so
//! it drops into any Azure SDK client as an `Arc<dyn azure_core::credentials::TokenCredential>`.
//!
//! [`AzureCoreCredential`] does the same for any [`entra_core::TokenCredential`] (a test
//! double, a chain, your own), and can add fixed request options:
//!
//! ```
//! use std::sync::Arc;
//!
//! use async_trait::async_trait;
//! use azure_core::credentials::TokenCredential as _;
//! use entra_public_client::azure_core::AzureCoreCredential;
//! use entra_core::{AccessTokenInfo, TokenCredential, TokenRequestOptions};
//! use time::{Duration, OffsetDateTime};
//!
//! // Any entra-rs credential; here a fixed one to keep the example self-contained.
//! #[derive(Debug)]
//! struct Fixed;
//!
//! #[async_trait]
//! impl TokenCredential for Fixed {
//!     async fn get_token_info(
//!         &self,
//!         _scopes: &[&str],
//!         _options: Option<TokenRequestOptions>,
//!     ) -> entra_core::Result<AccessTokenInfo> {
//!         Ok(AccessTokenInfo::new("t", OffsetDateTime::now_utc() + Duration::hours(1)))
//!     }
//! }
//!
//! # async fn run() -> azure_core::Result<()> {
//! // What an Azure SDK client constructor takes, e.g.
//! // `SecretClient::new("https://myvault.vault.azure.net/", credential.clone(), None)`.
//! let credential: Arc<dyn azure_core::credentials::TokenCredential> =
//!     AzureCoreCredential::new(Arc::new(Fixed));
//! let token = credential.get_token(&["https://vault.azure.net/.default"], None).await?;
//! assert_eq!(token.token.secret(), "t");
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run()).unwrap();
//! ```
//!
//! # What crosses the boundary, and what does not
//!
//! - **Token and expiry** are mapped exactly: the token string is copied into
//!   [`azure_core::credentials::Secret`] (whose `Debug` does not show it either), and
//!   `expires_on` is the same [`time::OffsetDateTime`] value.
//! - **`refresh_on` is lost.** azure_core's `AccessToken` has no such field; its
//!   `BearerTokenAuthorizationPolicy` keeps one token per policy and asks again only when the
//!   token is within 5 minutes of `expires_on`. The wrapped credential still honours
//!   `refresh_on` whenever it is asked: it refreshes from its own cache when the service said so.
//!   The token type is lost as well (azure_core assumes `Bearer`).
//! - **Claims, tenant and CAE are lost per request.** azure_core 1.x's `TokenRequestOptions`
//!   carries only a `Context`, so a claims challenge or a per-request tenant cannot reach the
//!   wrapped credential through it, and the SDK clients' challenge policies drop both.
//!   - **A claims challenge** (a CAE revocation: `401` with `WWW-Authenticate: Bearer …
//!     error="insufficient_claims", claims="…"`): in a pipeline you build, give the bearer
//!     policy [`ClaimsChallengeHandler`]; after an SDK client's call failed, pass its error to
//!     [`refresh_after_challenge`] and call again. Either way the credential gets one token with
//!     the claims and serves it to later plain requests.
//!   - **A tenant challenge** (Key Vault's `authorization="https://login.microsoftonline.com/
//!     {tenant}"` naming another tenant): give that client its own
//!     [`AzureCoreCredential::with_options`] with the tenant
//!     (`TokenRequestOptions::default().with_tenant_id(..)`, allowed by the credential's
//!     `additionally_allowed_tenants`); [`entra_msal_lite::tenant_from_challenge`] reads the
//!     tenant from the header.
//!   - **CAE**: `with_options` with `enable_cae` for every request of a client.
//! - **Errors** become [`azure_core::error::ErrorKind::Credential`] with the entra-rs
//!   message (credential name, what to do next, help link) and the [`entra_core::Error`] kept as
//!   the source: `err.downcast_ref::<entra_core::Error>()` gives back its kind, HTTP status,
//!   Entra error response, or the scopes and claims of an authentication-required error. An
//!   azure_core pipeline's retry policy wraps that error once more (same kind), so from a
//!   client call, walk `source()` until `downcast_ref::<entra_core::Error>()` succeeds.
//!
//! # Runtime caveat
//! azure_core's bearer policy calls `get_token` while a service request waits. With an
//! interactive credential that may mean a browser prompt in the middle of a request, which blocks
//! the request until the user finishes (up to the credential's timeout). Sign in up front with
//! the credential's `authenticate` (and `disable_automatic_authentication`) to avoid that.

use std::fmt;
use std::sync::Arc;

mod challenge;
pub use challenge::{ClaimsChallengeHandler, claims_challenge_of, refresh_after_challenge};

use async_trait::async_trait;
use azure_core::credentials::Secret as AzSecret;
pub use azure_core::credentials::{
    AccessToken as AzAccessToken, TokenCredential as AzTokenCredential,
    TokenRequestOptions as AzTokenRequestOptions,
};
use azure_core::error::Error as AzError;
use entra_core::{AccessToken, TokenCredential, TokenRequestOptions};

/// An entra-rs [`TokenCredential`] seen as an
/// [`azure_core::credentials::TokenCredential`].
///
/// Build it with [`AzureCoreCredential::new`], which returns the `Arc` Azure SDK clients
/// take. `C` is the wrapped credential; it defaults to `dyn TokenCredential` so that
/// `AzureCoreCredential::new(Arc<dyn TokenCredential>)` works as well as a concrete type.
///
/// `Debug` shows the wrapped credential's `Debug` (which never shows a token) and the fixed
/// options.
pub struct AzureCoreCredential<C: ?Sized = dyn TokenCredential> {
    inner: Arc<C>,
    options: Option<TokenRequestOptions>,
}

impl<C: TokenCredential + ?Sized + 'static> AzureCoreCredential<C> {
    /// Wraps `credential`. Every `get_token` call is forwarded with no options (the
    /// credential's own tenant, no claims, no CAE).
    pub fn new(credential: Arc<C>) -> Arc<Self> {
        Arc::new(Self {
            inner: credential,
            options: None,
        })
    }

    /// Wraps `credential` and forwards `options` with every `get_token` call, since azure_core
    /// cannot pass any per request. An empty `TokenRequestOptions::default()` is the same as
    /// [`new`](Self::new).
    pub fn with_options(credential: Arc<C>, options: TokenRequestOptions) -> Arc<Self> {
        Arc::new(Self {
            inner: credential,
            options: (options != TokenRequestOptions::default()).then_some(options),
        })
    }

    /// The wrapped credential, e.g. to call it with claims after a claims challenge.
    #[must_use]
    pub fn inner(&self) -> &Arc<C> {
        &self.inner
    }

    /// The options forwarded with every request, if any were set.
    #[must_use]
    pub fn options(&self) -> Option<&TokenRequestOptions> {
        self.options.as_ref()
    }
}

impl<C: ?Sized + fmt::Debug> fmt::Debug for AzureCoreCredential<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureCoreCredential")
            .field("inner", &&*self.inner)
            .field("options", &self.options)
            .finish()
    }
}

#[async_trait]
impl<C: TokenCredential + ?Sized + 'static> AzTokenCredential for AzureCoreCredential<C> {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<AzTokenRequestOptions<'_>>,
    ) -> azure_core::Result<AzAccessToken> {
        // azure_core's options hold only a Context, which carries nothing this credential
        // understands: see the module docs for what is lost.
        forward(&*self.inner, scopes, self.options.clone()).await
    }
}

/// A public-client credential is itself an azure_core credential: its `Arc` coerces to
/// `Arc<dyn azure_core::credentials::TokenCredential>`. Same mapping as
/// [`AzureCoreCredential`], with no options. With both `TokenCredential` traits in scope,
/// name the one you call (`entra_core::TokenCredential::get_token(&*c, ..)`).
#[async_trait]
impl<S: crate::InteractiveStep> AzTokenCredential for crate::PublicClient<S> {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<AzTokenRequestOptions<'_>>,
    ) -> azure_core::Result<AzAccessToken> {
        forward(self, scopes, None).await
    }
}

/// One `get_token` across the boundary: `credential`'s answer in azure_core's types, with
/// `options` forwarded (azure_core's own options carry nothing it understands). The
/// `azure_core::credentials::TokenCredential` impls of the credentials call it.
///
/// # Errors
/// The credential's error, converted by [`to_azure_core_error`].
pub async fn forward<C: TokenCredential + ?Sized>(
    credential: &C,
    scopes: &[&str],
    options: Option<TokenRequestOptions>,
) -> azure_core::Result<AzAccessToken> {
    tracing::debug!(
        target: "entra_public_client::azure_core",
        ?scopes,
        "azure_core get_token forwarded to the entra-rs credential"
    );
    match credential.get_token(scopes, options).await {
        Ok(token) => Ok(to_azure_core_token(token)),
        Err(err) => {
            tracing::debug!(
                target: "entra_public_client::azure_core",
                kind = err.kind_name(),
                "azure_core get_token failed"
            );
            Err(to_azure_core_error(err))
        }
    }
}

/// Converts an entra-rs access token into azure_core's: the same token string and the same
/// `expires_on`.
#[must_use]
pub fn to_azure_core_token(token: AccessToken) -> AzAccessToken {
    AzAccessToken::new(
        AzSecret::new(token.token.secret().to_owned()),
        token.expires_on,
    )
}

/// Converts an entra-rs error into azure_core's: kind
/// [`Credential`](azure_core::error::ErrorKind::Credential), the entra-rs message (its
/// `Display`: credential name, message, help link), and `err` itself as the source, so
/// `downcast_ref::<entra_core::Error>()` returns it.
#[must_use]
pub fn to_azure_core_error(err: entra_core::Error) -> AzError {
    // One conversion, entra-core's `From` (its `azure_core` feature).
    err.into()
}

#[cfg(test)]
mod tests {
    use azure_core::error::ErrorKind as AzErrorKind;
    use std::error::Error as _;
    use std::sync::Mutex;

    use entra_core::{AccessTokenInfo, Error, ErrorResponse};
    use time::OffsetDateTime;
    use time::macros::datetime;

    use super::*;

    /// Records what it was asked and answers with a fixed result.
    #[derive(Debug)]
    struct Fake {
        answer: std::result::Result<AccessTokenInfo, fn() -> Error>,
        calls: Mutex<Vec<(Vec<String>, Option<TokenRequestOptions>)>>,
    }

    impl Fake {
        fn ok(info: AccessTokenInfo) -> Arc<Self> {
            Arc::new(Self {
                answer: Ok(info),
                calls: Mutex::new(Vec::new()),
            })
        }

        fn err(make: fn() -> Error) -> Arc<Self> {
            Arc::new(Self {
                answer: Err(make),
                calls: Mutex::new(Vec::new()),
            })
        }
    }

    #[async_trait]
    impl TokenCredential for Fake {
        async fn get_token_info(
            &self,
            scopes: &[&str],
            options: Option<TokenRequestOptions>,
        ) -> entra_core::Result<AccessTokenInfo> {
            self.calls
                .lock()
                .unwrap()
                .push((scopes.iter().map(|s| (*s).to_owned()).collect(), options));
            match &self.answer {
                Ok(info) => Ok(info.clone()),
                Err(make) => Err(make()),
            }
        }
    }

    const EXPIRES: OffsetDateTime = datetime!(2031-02-03 04:05:06.789_012_345 UTC);

    #[tokio::test]
    async fn token_and_expiry_cross_exactly() {
        let fake = Fake::ok(
            AccessTokenInfo::new("at-VALUE-1", EXPIRES)
                .with_refresh_on(Some(datetime!(2031-02-03 03:00 UTC))),
        );
        let cred: Arc<dyn AzTokenCredential> = AzureCoreCredential::new(fake.clone());
        let token = cred
            .get_token(&["https://vault.azure.net/.default"], None)
            .await
            .unwrap();
        assert_eq!(token.token.secret(), "at-VALUE-1");
        assert_eq!(token.expires_on, EXPIRES);
        assert_eq!(token.expires_on.nanosecond(), 789_012_345);

        let calls = fake.calls.lock().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].0, ["https://vault.azure.net/.default"]);
        assert_eq!(
            calls[0].1, None,
            "azure_core options carry nothing to forward"
        );
    }

    #[tokio::test]
    async fn works_over_a_dyn_entra_credential_and_forwards_fixed_options() {
        let fake = Fake::ok(AccessTokenInfo::new("t", EXPIRES));
        let dyn_fake: Arc<dyn TokenCredential> = fake.clone();
        let options = TokenRequestOptions::default()
            .with_tenant_id("contoso.onmicrosoft.com")
            .with_enable_cae(true);
        let wrapper = AzureCoreCredential::with_options(dyn_fake, options.clone());
        assert_eq!(wrapper.options(), Some(&options));
        let cred: Arc<dyn AzTokenCredential> = wrapper;
        let options = Some(AzTokenRequestOptions::default());
        cred.get_token(&["a/.default"], options).await.unwrap();
        assert_eq!(
            fake.calls.lock().unwrap()[0].1.as_ref(),
            Some(
                &TokenRequestOptions::default()
                    .with_tenant_id("contoso.onmicrosoft.com")
                    .with_enable_cae(true)
            )
        );

        // Default options are the same as none.
        let plain = AzureCoreCredential::with_options(fake.clone(), TokenRequestOptions::default());
        assert!(plain.options().is_none());
        assert!(Arc::ptr_eq(plain.inner(), &fake));
    }

    #[tokio::test]
    async fn errors_become_credential_errors_with_our_message_and_source() {
        fn refused() -> Error {
            Error::from_error_response(
                Some(400),
                ErrorResponse::new("invalid_grant").with_description("AADSTS70000: grant expired"),
            )
            .with_credential("InteractiveBrowserCredential")
        }
        let cred: Arc<dyn AzTokenCredential> = AzureCoreCredential::new(Fake::err(refused));
        let err = cred.get_token(&["a/.default"], None).await.unwrap_err();
        assert_eq!(err.kind(), &AzErrorKind::Credential);
        assert_eq!(
            err.to_string(),
            "InteractiveBrowserCredential: Authentication failed: AADSTS70000: grant expired"
        );
        let ours = err
            .downcast_ref::<Error>()
            .expect("entra error kept as source");
        assert!(ours.is_client_authentication());
        assert_eq!(ours.status(), Some(400));
        assert_eq!(ours.error_response().unwrap().error, "invalid_grant");
        assert!(err.source().is_some());
    }

    #[tokio::test]
    async fn authentication_required_keeps_scopes_and_claims() {
        fn required() -> Error {
            Error::authentication_required(&["a/.default"], Some("{\"c\":1}"))
        }
        let cred: Arc<dyn AzTokenCredential> = AzureCoreCredential::new(Fake::err(required));
        let err = cred.get_token(&["a/.default"], None).await.unwrap_err();
        assert_eq!(err.kind(), &AzErrorKind::Credential);
        let ours = err.into_downcast::<Error>().unwrap();
        assert!(ours.is_authentication_required());
        assert_eq!(ours.scopes(), Some(&["a/.default".to_owned()][..]));
        assert_eq!(ours.claims(), Some("{\"c\":1}"));
    }

    #[tokio::test]
    async fn formatting_never_shows_the_token() {
        let fake = Fake::ok(AccessTokenInfo::new("at-VALUE-2", EXPIRES));
        let cred = AzureCoreCredential::new(fake);
        let token = AzTokenCredential::get_token(&*cred, &["a/.default"], None)
            .await
            .unwrap();
        for text in [
            format!("{cred:?}"),
            format!("{cred:#?}"),
            format!("{token:?}"),
        ] {
            assert!(!text.contains("VALUE"), "{text}");
        }
        assert!(format!("{cred:?}").starts_with("AzureCoreCredential { inner: Fake"));
    }
}
