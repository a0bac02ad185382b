//! [`TokenClient`]: the thin async HTTP layer (timeouts, size cap, retries with
//! `Retry-After`) over the sans-I/O request builders and response parsers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_LENGTH, RETRY_AFTER};
use time::OffsetDateTime;
use tracing::Instrument as _;
use url::Url;
use uuid::Uuid;

use crate::device_code::{DeviceCode, parse_device_code};
use crate::endpoints::Endpoints;
use crate::error::{MsalError, Result};
use crate::request::{
    AuthCodeGrant, ClientCredentialsGrant, RefreshGrant, TokenRequest, standard_headers,
};
use crate::response::{TokenResponse, parse_retry_after, parse_token_response};

/// When and how often a failed request is retried: on HTTP 429 and 5xx and on connection
/// failures (the request never reached the server).
///
/// A `Retry-After` up to [`max_retry_after`](Self::max_retry_after) is honoured; a longer
/// one ends the retries at once (the error keeps the value). Without it the delay doubles
/// from [`initial_delay`](Self::initial_delay) up to [`max_delay`](Self::max_delay).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying). Default 2.
    pub max_retries: u32,
    /// The first delay without `Retry-After`. Default 1 s.
    pub initial_delay: Duration,
    /// The longest delay without `Retry-After`. Default 10 s.
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured. Default 60 s.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    #[must_use]
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Sets [`max_retries`](Self::max_retries).
    #[must_use]
    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Sets [`initial_delay`](Self::initial_delay) and [`max_delay`](Self::max_delay).
    #[must_use]
    pub fn with_delays(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_delay = initial;
        self.max_delay = max;
        self
    }

    /// Sets [`max_retry_after`](Self::max_retry_after).
    #[must_use]
    pub fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// The delay before retry number `attempt + 1`, or `None` to stop.
    fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if attempt >= self.max_retries {
            return None;
        }
        match retry_after {
            Some(wait) if wait > self.max_retry_after => None,
            Some(wait) => Some(wait),
            None => {
                let factor = 2u32.saturating_pow(attempt);
                Some(
                    self.initial_delay
                        .saturating_mul(factor)
                        .min(self.max_delay),
                )
            }
        }
    }
}

/// Options of a [`TokenClient`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenClientOptions {
    /// The limit of one attempt, from connecting to the last body byte. Default 30 s
    /// (MSAL Go).
    pub timeout: Duration,
    /// The largest response body accepted. Default 1 MiB.
    pub max_response_bytes: usize,
    /// The retry policy.
    pub retry: RetryPolicy,
}

impl Default for TokenClientOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_response_bytes: 1024 * 1024,
            retry: RetryPolicy::default(),
        }
    }
}

impl TokenClientOptions {
    /// Sets the per-attempt timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the response-size cap.
    #[must_use]
    pub fn with_max_response_bytes(mut self, max: usize) -> Self {
        self.max_response_bytes = max;
        self
    }

    /// Sets the retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

/// A received HTTP response, body capped.
#[derive(Debug)]
pub(crate) struct HttpReply {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: Vec<u8>,
    pub(crate) sent_at: OffsetDateTime,
    /// How many times the request was retried before this reply.
    pub(crate) retries: u32,
}

/// Whole milliseconds, for tracing fields.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The token endpoint client. Cheap to clone (the `reqwest::Client` is shared).
///
/// ```no_run
/// use entra_core::Secret;
/// use entra_msal_lite::{Authority, Endpoints, RefreshGrant, TokenClient};
///
/// # async fn run() -> Result<(), entra_msal_lite::MsalError> {
/// let client = TokenClient::new(TokenClient::default_http_client()?);
/// let authority = Authority::parse("https://login.microsoftonline.com/organizations")?;
/// let endpoints = Endpoints::known_cloud(&authority).expect("known cloud");
/// let grant = RefreshGrant::new(
///     "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
///     Secret::new("refresh-token"),
///     &["https://graph.microsoft.com/.default"],
/// );
/// match client.refresh(&endpoints, &grant).await {
///     Ok(response) => println!("expires on {}", response.expires_on),
///     Err(e) if e.is_interaction_required() => println!("sign in again"),
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct TokenClient {
    http: reqwest::Client,
    options: Arc<TokenClientOptions>,
}

impl TokenClient {
    /// A client over `http` with default options.
    #[must_use]
    pub fn new(http: reqwest::Client) -> Self {
        Self::with_options(http, TokenClientOptions::default())
    }

    /// A client over `http` with `options`.
    #[must_use]
    pub fn with_options(http: reqwest::Client, options: TokenClientOptions) -> Self {
        Self {
            http,
            options: Arc::new(options),
        }
    }

    /// A `reqwest::Client` fit for Entra ID: rustls (aws-lc-rs), no redirects followed.
    ///
    /// # Errors
    /// [`MsalError::InvalidArgument`] if the TLS back end cannot be initialised.
    pub fn default_http_client() -> Result<reqwest::Client> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| {
                MsalError::InvalidArgument("the HTTP client could not be initialised".to_owned())
            })
    }

    /// The options.
    #[must_use]
    pub fn options(&self) -> &TokenClientOptions {
        &self.options
    }

    /// Redeems an authorization code at `endpoints.token_endpoint`.
    ///
    /// # Errors
    /// Any [`MsalError`] of [`execute`](Self::execute).
    pub async fn redeem_code(
        &self,
        endpoints: &Endpoints,
        grant: &AuthCodeGrant,
    ) -> Result<TokenResponse> {
        self.execute(&grant.to_request(&endpoints.token_endpoint)?)
            .await
    }

    /// Redeems a refresh token at `endpoints.token_endpoint`.
    ///
    /// # Errors
    /// Any [`MsalError`] of [`execute`](Self::execute);
    /// [`is_interaction_required`](MsalError::is_interaction_required) tells whether the user
    /// must sign in again.
    pub async fn refresh(
        &self,
        endpoints: &Endpoints,
        grant: &RefreshGrant,
    ) -> Result<TokenResponse> {
        self.execute(&grant.to_request(&endpoints.token_endpoint)?)
            .await
    }

    /// Gets an application's own token with the client-credentials grant at
    /// `endpoints.token_endpoint` (no retry beyond the policy's; no ID token, no refresh token).
    ///
    /// # Errors
    /// Any [`MsalError`] of [`execute`](Self::execute); [`MsalError::Service`] with
    /// `invalid_client` when Entra ID refuses the credential.
    pub async fn acquire_for_client(
        &self,
        endpoints: &Endpoints,
        grant: &ClientCredentialsGrant,
    ) -> Result<TokenResponse> {
        self.execute(&grant.to_request(&endpoints.token_endpoint)?)
            .await
    }

    /// Asks for a device code (RFC 8628 §3.1), retrying per the policy; build the request
    /// with [`device_code_request`](crate::device_code::device_code_request).
    ///
    /// # Errors
    /// As [`execute`](Self::execute); [`MsalError::Service`] when Entra ID refuses (e.g.
    /// `invalid_scope`, or a tenant that blocks the flow).
    pub async fn request_device_code(&self, request: &TokenRequest) -> Result<DeviceCode> {
        let body = request.encoded_body();
        let reply = self
            .send("the device code request", request.url(), || {
                let mut builder = self.http.post(request.url().clone());
                for (name, value) in request.headers() {
                    builder = builder.header(*name, value);
                }
                builder.body(body.secret().to_owned())
            })
            .await?;
        tracing::debug!(
            endpoint = %request.url(),
            status = reply.status,
            retries = reply.retries,
            "device code response received"
        );
        parse_device_code(reply.status, &reply.body, reply.sent_at)
    }

    /// Sends a token request (retrying per the policy) and parses the response.
    ///
    /// # Errors
    /// [`MsalError::Service`] for an Entra ID error response, [`MsalError::Network`],
    /// [`MsalError::Timeout`], [`MsalError::ResponseTooLarge`], [`MsalError::HttpStatus`],
    /// [`MsalError::MalformedResponse`], [`MsalError::MissingField`].
    pub async fn execute(&self, request: &TokenRequest) -> Result<TokenResponse> {
        let span = tracing::info_span!(
            "token_request",
            grant_type = request.grant_type(),
            endpoint = %request.url(),
            correlation_id = %request.correlation_id(),
        );
        async {
            let started = Instant::now();
            let body = request.encoded_body();
            let reply = self
                .send("the token request", request.url(), || {
                    let mut builder = self.http.post(request.url().clone());
                    for (name, value) in request.headers() {
                        builder = builder.header(*name, value);
                    }
                    builder.body(body.secret().to_owned())
                })
                .await;
            let reply = match reply {
                Ok(reply) => reply,
                Err(e) => {
                    tracing::warn!(
                        duration_ms = millis(started.elapsed()),
                        error = %e,
                        "token request failed"
                    );
                    return Err(e);
                }
            };
            let parsed =
                parse_token_response(reply.status, &reply.body, reply.sent_at, reply.retry_after);
            let duration_ms = millis(started.elapsed());
            match &parsed {
                Ok(response) => tracing::info!(
                    status = reply.status,
                    duration_ms,
                    retries = reply.retries,
                    expires_in = response.expires_in,
                    has_refresh_token = response.refresh_token.is_some(),
                    has_id_token = response.id_token.is_some(),
                    "token response received"
                ),
                Err(e) => tracing::warn!(
                    status = reply.status,
                    duration_ms,
                    retries = reply.retries,
                    error = e.oauth_error().unwrap_or_default(),
                    error_codes = ?e.error_response().map(|r| r.error_codes.clone()),
                    correlation_id = e.error_response().and_then(|r| r.correlation_id.as_deref()),
                    "token request failed"
                ),
            }
            parsed
        }
        .instrument(span)
        .await
    }

    /// A GET with the standard headers, retried per the policy.
    pub(crate) async fn get(&self, what: &'static str, url: &Url) -> Result<HttpReply> {
        let headers = standard_headers(Uuid::new_v4());
        self.send(what, url, || {
            let mut builder = self.http.get(url.clone());
            for (name, value) in &headers {
                builder = builder.header(*name, value);
            }
            builder
        })
        .await
    }

    async fn send(
        &self,
        what: &'static str,
        url: &Url,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<HttpReply> {
        let mut attempt = 0u32;
        loop {
            let result = self
                .send_once(what, url, make())
                .await
                .map(|reply| HttpReply {
                    retries: attempt,
                    ..reply
                });
            let retry_after = match &result {
                Ok(reply) if reply.status == 429 || (500..600).contains(&reply.status) => {
                    Some(reply.retry_after)
                }
                Err(MsalError::Network { source, .. })
                    if source
                        .downcast_ref::<reqwest::Error>()
                        .is_some_and(reqwest::Error::is_connect) =>
                {
                    Some(None)
                }
                _ => None,
            };
            let Some(retry_after) = retry_after else {
                return result;
            };
            let Some(delay) = self.options.retry.delay(attempt, retry_after) else {
                return result;
            };
            attempt += 1;
            tracing::warn!(
                request = what,
                %url,
                status = result.as_ref().map(|r| r.status).ok(),
                error = result.as_ref().err().map(tracing::field::display),
                attempt,
                wait_ms = millis(delay),
                retry_after = retry_after.is_some(),
                "retrying a failed request"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn send_once(
        &self,
        what: &'static str,
        url: &Url,
        builder: reqwest::RequestBuilder,
    ) -> Result<HttpReply> {
        let timeout = self.options.timeout;
        let limit = self.options.max_response_bytes;
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                MsalError::Timeout {
                    what,
                    url: url.to_string(),
                    timeout,
                }
            } else {
                MsalError::Network {
                    what,
                    url: url.to_string(),
                    source: Arc::new(e.without_url()),
                }
            }
        };
        let sent_at = OffsetDateTime::now_utc();
        let started = Instant::now();
        let mut response = builder.timeout(timeout).send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, OffsetDateTime::now_utc()));
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(MsalError::ResponseTooLarge { what, limit });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > limit {
                return Err(MsalError::ResponseTooLarge { what, limit });
            }
            body.extend_from_slice(&chunk);
        }
        tracing::debug!(
            request = what,
            %url,
            status,
            bytes = body.len(),
            duration_ms = millis(started.elapsed()),
            "response received"
        );
        Ok(HttpReply {
            status,
            retry_after,
            body,
            sent_at,
            retries: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_back_off_exponentially_and_honour_retry_after_within_bound() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(0, None), Some(Duration::from_secs(1)));
        assert_eq!(p.delay(1, None), Some(Duration::from_secs(2)));
        assert_eq!(p.delay(2, None), None, "max_retries = 2");
        let p = p.with_max_retries(100);
        assert_eq!(
            p.delay(5, None),
            Some(Duration::from_secs(10)),
            "capped by max_delay"
        );
        assert_eq!(
            p.delay(40, None),
            Some(Duration::from_secs(10)),
            "no overflow"
        );
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(7))),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(60))),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(61))),
            None,
            "beyond max_retry_after"
        );
        assert_eq!(RetryPolicy::none().delay(0, Some(Duration::ZERO)), None);
    }

    #[test]
    fn default_options() {
        let o = TokenClientOptions::default();
        assert_eq!(o.timeout, Duration::from_secs(30));
        assert_eq!(o.max_response_bytes, 1024 * 1024);
        assert_eq!(o.retry, RetryPolicy::default());
    }
}
