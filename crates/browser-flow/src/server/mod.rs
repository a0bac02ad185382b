//! The loopback redirect server: binds before the browser opens, serves each connection
//! concurrently with hyper, caps sizes and times, and completes only on a redirect carrying the
//! right `state`, within one deadline. The port is released on every outcome.

mod connection;
mod pages;
mod routing;
mod state;
#[cfg(test)]
mod tests;

use self::connection::serve;
pub(crate) use self::state::AuthCode;
use self::state::{START_PREFIX, Shared, StartRedirect};

use std::collections::VecDeque;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use entra_core::{Error, Result, Secret};
use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use tracing::Instrument as _;

use entra_msal_lite::request::ResponseMode;

use crate::error::BrowserFlowError;
use crate::redirect::{self};
use crate::redirect_uri::{LoopbackHost, RedirectTarget};

/// Python's port range when no `redirect_uri` is configured.
pub(crate) const DEFAULT_PORTS: RangeInclusive<u16> = 8400..=8999;
/// Largest request head (request line + headers) and largest form body accepted.
const MAX_HEAD_BYTES: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;
/// A client must send its request head within this time.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once. When all are taken, a new connection evicts the oldest one
/// that has not yet sent a whole request head (an idle one), so idle connections, however
/// many, cannot lock the browser out.
const MAX_CONNECTIONS: usize = 256;

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

fn bind_error(target: &str, source: io::Error) -> Error {
    BrowserFlowError::PortInUse {
        address: target.to_owned(),
        source: Some(source),
    }
    .into()
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
        let token = entra_msal_lite::pkce::new_state()?;
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
            return Err(BrowserFlowError::PortInUse {
                address: "localhost".to_owned(),
                source: None,
            }
            .into());
        };
        let mut connections = JoinSet::new();
        // Every live connection in accept order, with whether it has sent a request head.
        let mut live: VecDeque<(AbortHandle, Arc<AtomicBool>)> = VecDeque::new();
        let outcome = loop {
            tokio::select! {
                biased;
                Some(outcome) = rx.recv() => break outcome,
                () = &mut deadline => {
                    break Err(BrowserFlowError::Timeout { waited: timeout }.into());
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
