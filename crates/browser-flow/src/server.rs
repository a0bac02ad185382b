//! The loopback redirect server: binds before the browser opens, serves each connection
//! concurrently with hyper, caps sizes and times, and completes only on a redirect carrying the
//! right `state`, within one deadline. The port is released on every outcome.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use entra_core::{Error, Reason, Result, Secret, constant_time_eq};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use tracing::Instrument as _;

use entra_msal_lite::ResponseMode;

use crate::peer::{PeerUser, peer_user};
use crate::redirect::{self, RedirectOutcome, Rejection};
use crate::redirect_uri::{LoopbackHost, RedirectTarget};

/// Python's port range when no `redirect_uri` is configured.
pub(crate) const DEFAULT_PORTS: RangeInclusive<u16> = 8400..=8999;
/// Largest request head (request line + headers) and largest form body accepted.
const MAX_HEAD_BYTES: usize = 16 * 1024;
const MAX_BODY_BYTES: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;
/// A client must send its request head within this time.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// ... and its body within this time.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// No connection lives longer than this.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);
/// Connections served at once. When all are taken, a new connection evicts the oldest one
/// that has not yet sent a whole request head (an idle one), so idle connections, however
/// many, cannot lock the browser out.
const MAX_CONNECTIONS: usize = 256;

/// Why the loopback server ended a sign-in without an authorization code. Kept as the
/// [`source`](std::error::Error::source) of the credential's error, so callers can tell the
/// cases apart by type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoopbackError {
    /// The one-time sign-in link handed to the browser was opened a second time: another
    /// program may have read it (it is on the browser's command line), so the sign-in was
    /// stopped before anyone could complete it.
    #[error(
        "the sign-in link was opened more than once; another program may have read it, so the \
         sign-in was stopped"
    )]
    StartAddressReused,
}

/// The authorization code a valid redirect delivered.
pub(crate) struct AuthCode {
    pub(crate) code: Secret,
    pub(crate) client_info: Option<String>,
}

impl std::fmt::Debug for AuthCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCode")
            .field("client_info", &self.client_info.is_some())
            .finish_non_exhaustive()
    }
}

/// A bound, not yet serving, loopback server.
#[derive(Debug)]
pub(crate) struct LoopbackServer {
    listeners: Vec<TcpListener>,
    port: u16,
    path: String,
    redirect_uri: String,
    start: Option<StartRedirect>,
    pages: redirect::Pages,
}

/// A one-time loopback address that redirects the browser to the sign-in page, so the URL an
/// opener sees (and may log) carries no `state`, `nonce` or `login_hint`. Its first `GET`
/// consumes it; a second one ends the sign-in with [`LoopbackError::StartAddressReused`].
struct StartRedirect {
    /// `/entra-sign-in/<32 random bytes, base64url>`: unguessable, never logged.
    path: Secret,
    /// The identity provider's sign-in URL.
    location: Secret,
}

impl std::fmt::Debug for StartRedirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartRedirect").finish_non_exhaustive()
    }
}

/// The first path segment of every start address.
const START_PREFIX: &str = "/entra-sign-in/";

fn bind_error(target: &str, source: io::Error) -> Error {
    Error::credential_unavailable(format!("Couldn't start an HTTP server on {target}"))
        .with_reason(Reason::PortInUse)
        .with_source(source)
}

/// Binds one address.
async fn bind_one(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Binds `host` on `port`: both loopback families for `localhost` (IPv6 only when the machine
/// has it; an IPv6 port already taken by someone else counts as busy, so a browser preferring
/// `::1` never reaches another program).
async fn bind_host(host: LoopbackHost, port: u16) -> io::Result<Vec<TcpListener>> {
    let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
    match host {
        LoopbackHost::Ipv4 => Ok(vec![bind_one(v4).await?]),
        LoopbackHost::Ipv6 => Ok(vec![bind_one(v6).await?]),
        LoopbackHost::Localhost => {
            let first = bind_one(v4).await?;
            let port = first.local_addr()?.port();
            match bind_one(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).await {
                Ok(second) => Ok(vec![first, second]),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => Err(e),
                Err(e) => {
                    tracing::debug!(error = %e, "IPv6 loopback unavailable; listening on 127.0.0.1 only");
                    Ok(vec![first])
                }
            }
        }
    }
}

impl LoopbackServer {
    /// Binds the configured redirect URI's port (one attempt, no fallback), or the first free
    /// port of 8400-8999.
    pub(crate) async fn bind(target: &RedirectTarget) -> Result<Self> {
        Self::bind_in(target, DEFAULT_PORTS).await
    }

    pub(crate) async fn bind_in(
        target: &RedirectTarget,
        ports: RangeInclusive<u16>,
    ) -> Result<Self> {
        if let Some(port) = target.port {
            let uri = target
                .uri
                .clone()
                .unwrap_or_else(|| format!("http://localhost:{port}"));
            let listeners = bind_host(target.host, port).await.map_err(|e| {
                let shown = uri.split_once("://").map_or(uri.as_str(), |(_, rest)| rest);
                let authority = shown.split('/').next().unwrap_or(shown);
                bind_error(&format!("http://{authority}"), e)
            })?;
            tracing::debug!(port, "loopback server bound");
            return Ok(Self {
                listeners,
                port,
                path: target.path.clone(),
                redirect_uri: uri,
                start: None,
                pages: redirect::Pages::default(),
            });
        }
        let mut last_error = None;
        for port in ports {
            match bind_host(target.host, port).await {
                Ok(listeners) => {
                    tracing::debug!(port, "loopback server bound");
                    return Ok(Self {
                        listeners,
                        port,
                        path: target.path.clone(),
                        redirect_uri: format!("http://localhost:{port}"),
                        start: None,
                        pages: redirect::Pages::default(),
                    });
                }
                Err(e) => last_error = Some(e),
            }
        }
        let source = last_error.unwrap_or_else(|| io::Error::other("no port to try"));
        Err(bind_error("localhost", source))
    }

    /// The redirect URI to send on the authorize and token requests.
    pub(crate) fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The bound port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Makes the server answer `GET` on a new one-time start address with a `302` to
    /// `sign_in_url` while it waits, and returns that address (on the redirect URI's origin).
    /// The returned URL is a secret only as long as the wait lasts.
    pub(crate) fn start_redirect(&mut self, sign_in_url: &str) -> Result<Secret> {
        let token = entra_msal_lite::new_state()?;
        let path = format!("{START_PREFIX}{}", token.secret());
        let origin_end = self
            .redirect_uri
            .find("://")
            .map(|scheme| {
                let rest = scheme + 3;
                self.redirect_uri[rest..]
                    .find('/')
                    .map_or(self.redirect_uri.len(), |p| rest + p)
            })
            .unwrap_or(self.redirect_uri.len());
        let url = Secret::new(format!("{}{path}", &self.redirect_uri[..origin_end]));
        self.start = Some(StartRedirect {
            path: Secret::new(path),
            location: Secret::new(sign_in_url),
        });
        Ok(url)
    }

    /// Shows `pages` when the sign-in ends instead of the built-in ones.
    pub(crate) fn set_pages(&mut self, pages: redirect::Pages) {
        self.pages = pages;
    }

    /// Serves until a redirect with `expected_state` arrives or `timeout` passes (one deadline,
    /// from this call). Dropping the returned future closes the listeners at once and aborts
    /// every connection.
    pub(crate) async fn wait(
        self,
        expected_state: Secret,
        mode: ResponseMode,
        timeout: Duration,
    ) -> Result<AuthCode> {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let (tx, mut rx) = mpsc::channel(1);
        let shared = Arc::new(Shared {
            expected_state,
            start: self.start,
            start_opened: AtomicBool::new(false),
            hosts: allowed_hosts(self.port),
            pages: self.pages,
            path: self.path,
            mode,
            done: AtomicBool::new(false),
            tx,
        });
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .max_buf_size(MAX_HEAD_BYTES)
            .max_headers(MAX_HEADERS)
            .keep_alive(false);
        let builder = Arc::new(builder);
        let mut listeners = self.listeners.into_iter();
        let first = listeners.next();
        let second = listeners.next();
        let Some(first) = first else {
            return Err(Error::credential_unavailable(
                "Couldn't start an HTTP server on localhost",
            )
            .with_reason(Reason::PortInUse));
        };
        let mut connections = JoinSet::new();
        // Every live connection in accept order, with whether it has sent a request head.
        let mut live: VecDeque<(AbortHandle, Arc<AtomicBool>)> = VecDeque::new();
        let outcome = loop {
            tokio::select! {
                biased;
                Some(outcome) = rx.recv() => break outcome,
                () = &mut deadline => {
                    break Err(entra_public_client::timed_out(timeout));
                }
                accepted = accept_any(&first, second.as_ref()) => match accepted {
                    Ok(stream) => {
                        if make_room(&mut live) {
                            let busy = Arc::new(AtomicBool::new(false));
                            // In the caller's span (the sign-in's `get_token`), so each request's events
                            // are attributed to it.
                            let handle = connections.spawn(
                                serve(stream, Arc::clone(&builder), Arc::clone(&shared), Arc::clone(&busy))
                                    .in_current_span(),
                            );
                            live.push_back((handle, busy));
                        } else {
                            tracing::debug!("every loopback connection is busy with a request; closing the new one");
                        }
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: back off briefly, keep serving.
                        tracing::debug!(error = %e, "accept failed on the loopback server");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        };
        // Release the port first, then close every remaining connection.
        drop(first);
        drop(second);
        connections.shutdown().await;
        tracing::debug!(port = self.port, "loopback server closed");
        outcome
    }
}

/// Makes room for one more connection: forgets finished ones and, at the cap, aborts the
/// oldest idle one. `false` when every slot is busy with a request (each bounded by the body
/// timeout and the connection lifetime).
fn make_room(live: &mut VecDeque<(AbortHandle, Arc<AtomicBool>)>) -> bool {
    if live.len() < MAX_CONNECTIONS {
        return true;
    }
    live.retain(|(handle, _)| !handle.is_finished());
    if live.len() < MAX_CONNECTIONS {
        return true;
    }
    match live
        .iter()
        .position(|(_, busy)| !busy.load(Ordering::Acquire))
    {
        Some(oldest_idle) => {
            if let Some((handle, _)) = live.remove(oldest_idle) {
                handle.abort();
            }
            tracing::debug!("loopback server full: closed the oldest idle connection");
            true
        }
        None => false,
    }
}

/// The `Host` values a request may carry: a loopback name (`localhost`, `127.0.0.1`,
/// `[::1]`) with the bound port (and the bare name on port 80, where browsers leave the port
/// out). A name that resolves elsewhere, as in DNS rebinding, is refused.
fn allowed_hosts(port: u16) -> Vec<String> {
    let names = ["localhost", "127.0.0.1", "[::1]"];
    let mut hosts: Vec<String> = names.iter().map(|n| format!("{n}:{port}")).collect();
    if port == 80 {
        hosts.extend(names.iter().map(|n| (*n).to_owned()));
    }
    hosts
}

async fn accept_any(first: &TcpListener, second: Option<&TcpListener>) -> io::Result<TcpStream> {
    match second {
        None => first.accept().await.map(|(s, _)| s),
        Some(second) => tokio::select! {
            r = first.accept() => r.map(|(s, _)| s),
            r = second.accept() => r.map(|(s, _)| s),
        },
    }
}

struct Shared {
    expected_state: Secret,
    start: Option<StartRedirect>,
    /// Whether the start address has been fetched (it serves one `GET`).
    start_opened: AtomicBool,
    /// The `Host` header values served; anything else is refused (DNS rebinding, a request
    /// meant for another server).
    hosts: Vec<String>,
    /// The pages shown when the sign-in ends (the application's, or the built-in ones).
    pages: redirect::Pages,
    path: String,
    mode: ResponseMode,
    done: AtomicBool,
    tx: mpsc::Sender<Result<AuthCode>>,
}

type Slot = Arc<Mutex<Option<Result<AuthCode>>>>;

/// The two ends of a connection, for the peer-user check.
#[derive(Clone, Copy)]
struct Ends {
    local: Option<SocketAddr>,
    peer: Option<SocketAddr>,
}

impl Ends {
    /// Whether the peer may take part in the sign-in: not a process of another user.
    fn peer_allowed(self) -> bool {
        let (Some(local), Some(peer)) = (self.local, self.peer) else {
            return false;
        };
        let user = peer_user(local, peer);
        match user {
            PeerUser::Other(uid) => tracing::warn!(
                uid,
                "a process of another user tried to take part in the sign-in; refused"
            ),
            PeerUser::Unknown if !user.allowed() => {
                tracing::warn!("the user behind a connection could not be established; refused")
            }
            _ => {}
        }
        user.allowed()
    }
}

/// Serves one connection; a captured outcome is handed over only once its page is written.
/// `busy` is set once the connection has sent a whole request head.
async fn serve(
    stream: TcpStream,
    builder: Arc<http1::Builder>,
    shared: Arc<Shared>,
    busy: Arc<AtomicBool>,
) {
    let ends = Ends {
        local: stream.local_addr().ok(),
        peer: stream.peer_addr().ok(),
    };
    let slot: Slot = Arc::new(Mutex::new(None));
    let service = {
        let shared = Arc::clone(&shared);
        let slot = Arc::clone(&slot);
        service_fn(move |req| {
            busy.store(true, Ordering::Release);
            let shared = Arc::clone(&shared);
            let slot = Arc::clone(&slot);
            async move { Ok::<_, Infallible>(handle(req, &shared, &slot, ends).await) }
        })
    };
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    match tokio::time::timeout(CONNECTION_LIFETIME, connection).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::trace!(error = %e, "loopback connection ended with an error"),
        Err(_) => tracing::debug!("loopback connection closed after its lifetime cap"),
    }
    let captured = slot.lock().ok().and_then(|mut s| s.take());
    if let Some(outcome) = captured {
        let _ = shared.tx.try_send(outcome);
    }
}

fn respond(status: StatusCode, html: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(html)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    response
}

fn notice(status: StatusCode, title: &str, explanation: &str) -> Response<Full<Bytes>> {
    respond(status, redirect::notice_page(title, explanation))
}

/// `302` to the sign-in page, with a tiny page in case the browser does not follow it.
fn start_redirect_response(location: &str) -> Response<Full<Bytes>> {
    let mut response = respond(
        StatusCode::FOUND,
        redirect::notice_page("Signing in", "Continuing to the sign-in page."),
    );
    match HeaderValue::from_str(location) {
        Ok(value) => {
            response.headers_mut().insert(header::LOCATION, value);
            response
        }
        Err(_) => notice(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Sign-in unavailable",
            "The sign-in address is not a valid URL.",
        ),
    }
}

/// A short, log-safe rendering of a request path (never the query).
fn log_path(path: &str) -> &str {
    if path.starts_with(START_PREFIX) {
        return START_PREFIX;
    }
    let mut end = path.len().min(64);
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    &path[..end]
}

/// What a request to the loopback server was, for the `kind` field of its tracing event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RequestKind {
    /// The one-time start address, first `GET`: `302` to the sign-in page.
    StartRedirect,
    /// The start address with a method other than GET: `405`.
    StartWrongMethod,
    /// The start address fetched again: `410`, and the sign-in ends.
    StartReused,
    /// A `Host` this server does not serve: `421`.
    WrongHost,
    /// The start address or the redirect path from another user's process: `403`.
    OtherUser,
    /// A sign-in response before the start address was fetched: `400`.
    NotStarted,
    /// `/favicon.ico`: `404`.
    Favicon,
    /// Any other path: `404`.
    UnrelatedPath,
    /// The redirect path with the wrong method: `405`.
    WrongMethod,
    /// A form post that is not a form: `415`.
    UnsupportedMediaType,
    /// A body too large or incomplete: `413`.
    TooLarge,
    /// A body that did not arrive in time: `408`.
    BodyTimeout,
    /// Parameters that are not a sign-in response: `400`.
    BadRequest,
    /// A sign-in response with another `state`: `400`.
    StateMismatch,
    /// The sign-in response with a code: `200`, success page.
    Code,
    /// The sign-in response with an error: `200`, failure page.
    ErrorRedirect,
    /// A second valid response after the first: `200`, "already complete".
    AlreadyComplete,
}

impl RequestKind {
    const fn as_str(self) -> &'static str {
        match self {
            Self::StartRedirect => "start_redirect",
            Self::StartWrongMethod => "start_wrong_method",
            Self::StartReused => "start_reused",
            Self::WrongHost => "wrong_host",
            Self::OtherUser => "other_user",
            Self::NotStarted => "not_started",
            Self::Favicon => "favicon",
            Self::UnrelatedPath => "unrelated_path",
            Self::WrongMethod => "wrong_method",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::TooLarge => "too_large",
            Self::BodyTimeout => "body_timeout",
            Self::BadRequest => "bad_request",
            Self::StateMismatch => "state_mismatch",
            Self::Code => "authorization_code",
            Self::ErrorRedirect => "error_redirect",
            Self::AlreadyComplete => "already_complete",
        }
    }
}

/// Answers one request and traces what it was: its kind, method, status and a log-safe path
/// (never a query string, a form body, `state` or the start address's token).
async fn handle(
    req: Request<Incoming>,
    shared: &Shared,
    slot: &Slot,
    ends: Ends,
) -> Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = log_path(req.uri().path()).to_owned();
    let (kind, response) = route(req, shared, slot, ends).await;
    tracing::debug!(
        kind = kind.as_str(),
        %method,
        path,
        status = response.status().as_u16(),
        "loopback server request"
    );
    response
}

/// Whether the request's `Host` (or absolute-form authority) is one this server serves.
fn host_allowed(req: &Request<Incoming>, hosts: &[String]) -> bool {
    let given = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()));
    given.is_some_and(|h| hosts.iter().any(|allowed| h.eq_ignore_ascii_case(allowed)))
}

/// Claims the one outcome of the sign-in for this connection; `false` when another request
/// already ended it.
fn claim(shared: &Shared, slot: &Slot, result: Result<AuthCode>) -> bool {
    if shared.done.swap(true, Ordering::AcqRel) {
        return false;
    }
    if let Ok(mut s) = slot.lock() {
        *s = Some(result);
    }
    true
}

/// The start address: its first `GET` redirects to the sign-in page; a second one ends the
/// sign-in (someone else has the link).
fn start_address(
    req: &Request<Incoming>,
    start: &StartRedirect,
    shared: &Shared,
    slot: &Slot,
) -> (RequestKind, Response<Full<Bytes>>) {
    use RequestKind as K;
    if req.method() != Method::GET {
        return (
            K::StartWrongMethod,
            notice(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed",
                "Open this address in a browser to sign in.",
            ),
        );
    }
    if !shared.start_opened.swap(true, Ordering::AcqRel) {
        return (
            K::StartRedirect,
            start_redirect_response(start.location.secret()),
        );
    }
    let stopped = claim(
        shared,
        slot,
        Err(Error::client_authentication(
            "The sign-in link was opened more than once, so the sign-in was stopped: \
                 another program on this machine may have read the link. Sign in again.",
        )
        .with_reason(Reason::SignInLinkReused)
        .with_source(LoopbackError::StartAddressReused)),
    );
    let explanation = if stopped {
        "This sign-in link was already used, so the sign-in was stopped for your safety. \
         Start the sign-in again from your application."
    } else {
        "This sign-in link was already used."
    };
    (
        K::StartReused,
        notice(StatusCode::GONE, "Sign-in link already used", explanation),
    )
}

async fn route(
    req: Request<Incoming>,
    shared: &Shared,
    slot: &Slot,
    ends: Ends,
) -> (RequestKind, Response<Full<Bytes>>) {
    use RequestKind as K;
    if !host_allowed(&req, &shared.hosts) {
        return (
            K::WrongHost,
            notice(
                StatusCode::MISDIRECTED_REQUEST,
                "Wrong address",
                "This server only answers requests addressed to the sign-in's redirect address.",
            ),
        );
    }
    let path = req.uri().path();
    let start = shared
        .start
        .as_ref()
        .filter(|s| path.starts_with(START_PREFIX) && constant_time_eq(path, s.path.secret()));
    if (start.is_some() || path == shared.path) && !ends.peer_allowed() {
        return (
            K::OtherUser,
            notice(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "This sign-in belongs to another user of this machine.",
            ),
        );
    }
    if let Some(start) = start {
        return start_address(&req, start, shared, slot);
    }
    if path != shared.path {
        let kind = if req.uri().path() == "/favicon.ico" {
            K::Favicon
        } else {
            K::UnrelatedPath
        };
        return (
            kind,
            notice(
                StatusCode::NOT_FOUND,
                "Not found",
                "This address only accepts the sign-in response.",
            ),
        );
    }
    if shared.start.is_some() && !shared.start_opened.load(Ordering::Acquire) {
        // The browser has not even been to the start address: this response cannot belong
        // to the sign-in this server started.
        return (
            K::NotStarted,
            notice(
                StatusCode::BAD_REQUEST,
                "Unexpected sign-in response",
                "This sign-in response does not belong to a sign-in started here.",
            ),
        );
    }
    let expected = match shared.mode {
        ResponseMode::Query => Method::GET,
        _ => Method::POST,
    };
    if req.method() != expected {
        let mut response = notice(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            "This address only accepts the sign-in response.",
        );
        if let Ok(allow) = HeaderValue::from_str(expected.as_str()) {
            response.headers_mut().insert(header::ALLOW, allow);
        }
        return (K::WrongMethod, response);
    }
    let params: Bytes = if expected == Method::GET {
        Bytes::copy_from_slice(req.uri().query().unwrap_or("").as_bytes())
    } else {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return (
                K::UnsupportedMediaType,
                notice(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "Unsupported media type",
                    "The sign-in response must be a form (application/x-www-form-urlencoded).",
                ),
            );
        }
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return (
                K::TooLarge,
                notice(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Request too large",
                    "The request body is larger than any sign-in response.",
                ),
            );
        }
        let body = Limited::new(req.into_body(), MAX_BODY_BYTES);
        match tokio::time::timeout(BODY_READ_TIMEOUT, body.collect()).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(_)) => {
                return (
                    K::TooLarge,
                    notice(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "Request too large",
                        "The request body is larger than any sign-in response or incomplete.",
                    ),
                );
            }
            Err(_) => {
                return (
                    K::BodyTimeout,
                    notice(
                        StatusCode::REQUEST_TIMEOUT,
                        "Request timeout",
                        "The request body did not arrive in time.",
                    ),
                );
            }
        }
    };
    match redirect::classify(&params, shared.expected_state.secret()) {
        Err(rejection) => {
            tracing::debug!(
                ?rejection,
                "loopback server: request does not complete the sign-in (400)"
            );
            let (kind, title) = if rejection == Rejection::StateMismatch {
                (K::StateMismatch, "Unexpected sign-in response")
            } else {
                (K::BadRequest, "Bad request")
            };
            (
                kind,
                notice(StatusCode::BAD_REQUEST, title, rejection.explanation()),
            )
        }
        Ok(outcome) => {
            let (kind, page, result) = match outcome {
                RedirectOutcome::Code { code, client_info } => {
                    tracing::debug!("loopback server: authorization code received");
                    (
                        K::Code,
                        shared.pages.success(),
                        Ok(AuthCode { code, client_info }),
                    )
                }
                RedirectOutcome::Error(response) => {
                    tracing::debug!(error = %response.error, "loopback server: the authority redirected with an error");
                    let page = shared.pages.failure(&response);
                    (
                        K::ErrorRedirect,
                        page,
                        Err(Error::from_error_response(None, response)),
                    )
                }
            };
            if !claim(shared, slot, result) {
                return (
                    K::AlreadyComplete,
                    respond(StatusCode::OK, redirect::already_complete_page()),
                );
            }
            (kind, respond(StatusCode::OK, page))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan() -> RedirectTarget {
        RedirectTarget::default_scan()
    }

    #[tokio::test]
    async fn scanning_skips_busy_ports_and_reports_all_busy() {
        // Find two adjacent free ports in a high range, occupy the first.
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = busy.local_addr().unwrap().port();
        let server = LoopbackServer::bind_in(&scan(), port..=port.saturating_add(50))
            .await
            .unwrap();
        assert_ne!(server.port(), port);
        assert!(server.port() > port);
        assert_eq!(
            server.redirect_uri(),
            format!("http://localhost:{}", server.port())
        );

        let err = LoopbackServer::bind_in(&scan(), port..=port)
            .await
            .unwrap_err();
        assert!(err.is_credential_unavailable());
        assert_eq!(err.message(), "Couldn't start an HTTP server on localhost");
    }

    #[tokio::test]
    async fn explicit_port_is_one_attempt() {
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = busy.local_addr().unwrap().port();
        let target =
            crate::redirect_uri::parse_redirect_uri(&format!("http://localhost:{port}/cb"))
                .unwrap();
        let err = LoopbackServer::bind(&target).await.unwrap_err();
        assert!(err.is_credential_unavailable());
        assert_eq!(
            err.message(),
            format!("Couldn't start an HTTP server on http://localhost:{port}")
        );
    }

    #[tokio::test]
    async fn timeout_message_names_the_wait_and_releases_the_port() {
        let server = LoopbackServer::bind_in(&scan(), 20000..=20999)
            .await
            .unwrap();
        let port = server.port();
        let err = server
            .wait(
                Secret::new("s"),
                ResponseMode::FormPost,
                Duration::from_millis(50),
            )
            .await
            .unwrap_err();
        assert!(err.is_client_authentication());
        assert_eq!(
            err.message(),
            "Timed out after waiting 0.05 seconds for the user to authenticate"
        );
        std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        assert_eq!(
            entra_public_client::timed_out(Duration::from_secs(300)).message(),
            "Timed out after waiting 300 seconds for the user to authenticate"
        );
    }

    /// One junk request of kind `i % 10`; returns the status line's code, or 0 when the server
    /// closed without answering (truncated requests).
    async fn junk(port: u16, i: usize) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)).await else {
            return 0;
        };
        let big = "a".repeat(20 * 1024);
        let x = format!("localhost:{port}");
        let request: Vec<u8> = match i % 10 {
            0 => b"GARBAGE\r\n\r\n".to_vec(),
            1 => format!("GET / HTTP/1.1\r\nHost: {x}\r\nX-Big: {big}\r\n\r\n").into_bytes(),
            2 => format!("POST / HTTP/1.1\r\nHost: {x}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\n\r\nstate=").into_bytes(),
            3 => format!("POST / HTTP/1.1\r\nHost: {x}\r\nContent-Le").into_bytes(),
            4 => format!("GET /favicon.ico HTTP/1.1\r\nHost: {x}\r\n\r\n").into_bytes(),
            5 => format!("GET /?code=c&state=s HTTP/1.1\r\nHost: {x}\r\n\r\n").into_bytes(),
            6 => format!("POST / HTTP/1.1\r\nHost: {x}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 20\r\n\r\ncode=c&state=wrong-s").into_bytes(),
            7 => format!("POST / HTTP/1.1\r\nHost: {x}\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc").into_bytes(),
            8 => (0..600u32).map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8).collect(),
            _ => format!("DELETE / HTTP/1.1\r\nHost: {x}\r\n\r\n").into_bytes(),
        };
        if s.write_all(&request).await.is_err() {
            return 0;
        }
        if i % 10 == 3 {
            return 0; // truncated: hang up mid-request
        }
        let mut response = Vec::new();
        let _ = s.read_to_end(&mut response).await;
        let text = String::from_utf8_lossy(&response);
        text.split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn junk_never_ends_the_wait_and_the_real_redirect_completes() {
        let server = LoopbackServer::bind_in(&scan(), 21000..=21999)
            .await
            .unwrap();
        let port = server.port();
        let wait = tokio::spawn(server.wait(
            Secret::new("s"),
            ResponseMode::FormPost,
            Duration::from_secs(120),
        ));
        // Half-open connections that never send a byte, held through the whole test.
        let mut idle = Vec::new();
        for _ in 0..50 {
            idle.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
        }
        let mut workers = JoinSet::new();
        for w in 0..16 {
            workers.spawn(async move {
                let mut statuses = Vec::new();
                for n in 0..125 {
                    let i = w * 125 + n;
                    statuses.push((i % 10, junk(port, i).await));
                }
                statuses
            });
        }
        let mut seen = std::collections::HashMap::<usize, Vec<u16>>::new();
        while let Some(r) = workers.join_next().await {
            for (kind, status) in r.unwrap() {
                seen.entry(kind).or_default().push(status);
            }
        }
        assert!(!wait.is_finished(), "junk must not end the wait");
        let all = |kind: usize, status: u16| seen[&kind].iter().all(|s| *s == status);
        assert!(all(0, 400), "{:?}", seen[&0]);
        assert!(all(1, 431), "{:?}", seen[&1]);
        assert!(all(2, 413), "{:?}", seen[&2]);
        assert!(all(4, 404));
        assert!(all(5, 405));
        assert!(all(6, 400));
        assert!(all(7, 415));
        assert!(all(9, 405));
        // The real redirect still completes.
        let client = reqwest::Client::new();
        let response = client
            .post(format!("http://127.0.0.1:{port}/"))
            .form(&[("code", "real-code"), ("state", "s"), ("client_info", "ci")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let page = response.text().await.unwrap();
        assert!(page.contains("Authentication complete"));
        let code = wait.await.unwrap().unwrap();
        assert_eq!(code.code.secret(), "real-code");
        assert_eq!(code.client_info.as_deref(), Some("ci"));
        drop(idle);
        // The port is free again.
        std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    }

    #[tokio::test]
    async fn error_redirect_fails_with_the_response_and_query_mode_works() {
        let server = LoopbackServer::bind_in(&scan(), 22000..=22999)
            .await
            .unwrap();
        let port = server.port();
        let wait = tokio::spawn(server.wait(
            Secret::new("s"),
            ResponseMode::Query,
            Duration::from_secs(60),
        ));
        let client = reqwest::Client::new();
        // POST is not the configured mode.
        let r = client
            .post(format!("http://127.0.0.1:{port}/"))
            .form(&[("code", "c"), ("state", "s")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405);
        let r = client
            .get(format!("http://127.0.0.1:{port}/?error=access_denied&error_description=%3Cb%3Eno%3C%2Fb%3E&state=s"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let page = r.text().await.unwrap();
        assert!(page.contains("&lt;b&gt;no&lt;/b&gt;"), "{page}");
        let err = wait.await.unwrap().unwrap_err();
        assert!(err.is_client_authentication());
        assert_eq!(err.error_response().unwrap().error, "access_denied");
        assert_eq!(err.message(), "Authentication failed: <b>no</b>");
    }
}
