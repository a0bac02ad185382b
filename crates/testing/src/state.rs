//! What the mock's handlers share: its state (settings, the request log, faults and gates,
//! pending codes, refresh tokens, device codes) behind one lock, and the signing key.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::config::Settings;
use crate::device_code::{DeviceCodeStatus, DeviceGrant};
use crate::fault::{Endpoint, Fault};
use crate::gate::Gate;
use crate::keys::SigningKey;
use crate::log::RecordedRequest;
use crate::users::TestUser;

/// An authorization code waiting to be redeemed.
#[derive(Clone)]
pub(crate) struct CodeGrant {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) code_challenge: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) user: TestUser,
    pub(crate) tid: String,
    pub(crate) adfs: bool,
    pub(crate) issued: Instant,
}

/// A live refresh token.
#[derive(Clone)]
pub(crate) struct RefreshGrant {
    pub(crate) client_id: String,
    pub(crate) user: TestUser,
    pub(crate) scopes: Vec<String>,
    pub(crate) adfs: bool,
}

/// An authorize request waiting for the HTML sign-in page to be submitted.
#[derive(Clone)]
pub(crate) struct PendingSignIn {
    pub(crate) query: Vec<(String, String)>,
    pub(crate) tenant: String,
    pub(crate) created: Instant,
}

/// Faults aimed at one endpoint.
#[derive(Default)]
pub(crate) struct FaultQueue {
    pub(crate) queued: VecDeque<Fault>,
    pub(crate) always: Option<Fault>,
}

/// Everything the handlers read and change.
pub(crate) struct State {
    pub(crate) settings: Settings,
    pub(crate) log: Vec<RecordedRequest>,
    pub(crate) counts: HashMap<Endpoint, u64>,
    pub(crate) faults: HashMap<Endpoint, FaultQueue>,
    pub(crate) gates: HashMap<Endpoint, Gate>,
    pub(crate) codes: HashMap<String, CodeGrant>,
    pub(crate) used_codes: HashMap<String, Instant>,
    pub(crate) refresh_tokens: HashMap<String, RefreshGrant>,
    pub(crate) revoked_refresh_tokens: HashMap<String, Instant>,
    pub(crate) pending_sign_ins: HashMap<String, PendingSignIn>,
    pub(crate) last_client_capabilities: Option<Vec<String>>,
    pub(crate) last_claims: Option<String>,
    pub(crate) device_codes: HashMap<String, DeviceGrant>,
}

impl State {
    /// Takes the fault for the next request to `endpoint`, if any.
    pub(crate) fn take_fault(&mut self, endpoint: Endpoint) -> Option<Fault> {
        let queue = self.faults.get_mut(&endpoint)?;
        queue.queued.pop_front().or_else(|| queue.always.clone())
    }

    /// A user by username (case-insensitive).
    pub(crate) fn user(&self, username: &str) -> Option<&TestUser> {
        self.settings
            .users
            .iter()
            .find(|u| u.username().eq_ignore_ascii_case(username))
    }

    /// The default sign-in user.
    pub(crate) fn default_user(&self) -> Option<&TestUser> {
        self.settings
            .users
            .get(self.settings.default_user)
            .or_else(|| self.settings.users.first())
    }

    /// Sets the status of the pending code whose user code is `user_code`; `false` when there is
    /// none.
    pub(crate) fn set_device_code_status(
        &mut self,
        user_code: &str,
        status: DeviceCodeStatus,
    ) -> bool {
        match self
            .device_codes
            .values_mut()
            .find(|g| g.user_code.eq_ignore_ascii_case(user_code))
        {
            Some(grant) => {
                grant.status = status;
                true
            }
            None => false,
        }
    }
}

/// What the connection tasks share.
pub(crate) struct Shared {
    pub(crate) port: u16,
    pub(crate) https: bool,
    pub(crate) key: SigningKey,
    state: Mutex<State>,
}

impl Shared {
    /// The state behind the server's lock.
    pub(crate) fn new(port: u16, https: bool, key: SigningKey, state: State) -> Self {
        Self {
            port,
            https,
            key,
            state: Mutex::new(state),
        }
    }

    /// Locks the state (a poisoned lock is still usable: the state stays consistent per step).
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `https` or `http`.
    pub(crate) fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }
}
