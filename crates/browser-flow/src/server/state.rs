//! What the loopback server's parts share: the code a redirect delivers, the one-time start
//! address, the per-sign-in state every connection reads, and the outcome slot a connection
//! fills once.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use entra_core::{Result, Secret};
use tokio::sync::mpsc;

use entra_msal_lite::request::ResponseMode;

use crate::peer::{PeerUser, peer_user};
use crate::redirect::{self};

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

/// A one-time loopback address that redirects the browser to the sign-in page, so the URL an
/// opener sees (and may log) carries no `state`, `nonce` or `login_hint`. Its first `GET`
/// consumes it; a second one ends the sign-in with
/// [`BrowserFlowError::StartAddressReused`](crate::BrowserFlowError::StartAddressReused).
pub(super) struct StartRedirect {
    /// `/entra-sign-in/<32 random bytes, base64url>`: unguessable, never logged.
    pub(super) path: Secret,
    /// The identity provider's sign-in URL.
    pub(super) location: Secret,
}

impl std::fmt::Debug for StartRedirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartRedirect").finish_non_exhaustive()
    }
}

/// The first path segment of every start address.
pub(super) const START_PREFIX: &str = "/entra-sign-in/";

pub(super) struct Shared {
    pub(super) expected_state: Secret,
    pub(super) start: Option<StartRedirect>,
    /// Whether the start address has been fetched (it serves one `GET`).
    pub(super) start_opened: AtomicBool,
    /// The `Host` header values served; anything else is refused (DNS rebinding, a request
    /// meant for another server).
    pub(super) hosts: Vec<String>,
    /// The pages shown when the sign-in ends (the application's, or the built-in ones).
    pub(super) pages: redirect::Pages,
    pub(super) path: String,
    pub(super) mode: ResponseMode,
    pub(super) done: AtomicBool,
    pub(super) tx: mpsc::Sender<Result<AuthCode>>,
}

pub(super) type Slot = Arc<Mutex<Option<Result<AuthCode>>>>;

/// The two ends of a connection, for the peer-user check.
#[derive(Clone, Copy)]
pub(super) struct Ends {
    pub(super) local: Option<SocketAddr>,
    pub(super) peer: Option<SocketAddr>,
}

impl Ends {
    /// Whether the peer may take part in the sign-in: not a process of another user.
    pub(super) fn peer_allowed(self) -> bool {
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

/// Claims the one outcome of the sign-in for this connection; `false` when another request
/// already ended it.
pub(super) fn claim(shared: &Shared, slot: &Slot, result: Result<AuthCode>) -> bool {
    if shared.done.swap(true, Ordering::AcqRel) {
        return false;
    }
    if let Ok(mut s) = slot.lock() {
        *s = Some(result);
    }
    true
}
