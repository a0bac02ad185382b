//! What a test does with a running [`MockEntra`]: read its request log, inject faults and hold
//! requests, change its behaviour, manage users, tenants and device codes, verify its tokens.

use std::time::{Duration, Instant};

use super::{MockEntra, push_fault};
use crate::MockError;
use crate::config::{
    AuthorizeRefusal, ClaimsChallenge, DEFAULT_TENANT_DOMAIN, DEFAULT_TENANT_ID, DEFAULT_USERNAME,
};
use crate::fault::{Endpoint, Fault, FaultTimes};
use crate::gate::Gate;
use crate::log::RecordedRequest;
use crate::users::{TestTenant, TestUser};

impl MockEntra {
    // ---- request log ----

    /// Every request received so far, oldest first.
    #[must_use]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.state().log.clone()
    }

    /// The requests routed to `endpoint`, oldest first.
    #[must_use]
    pub fn requests_to(&self, endpoint: Endpoint) -> Vec<RecordedRequest> {
        self.shared
            .state()
            .log
            .iter()
            .filter(|r| r.endpoint == endpoint)
            .cloned()
            .collect()
    }

    /// The most recent request to `endpoint`.
    #[must_use]
    pub fn last_request(&self, endpoint: Endpoint) -> Option<RecordedRequest> {
        self.shared
            .state()
            .log
            .iter()
            .rev()
            .find(|r| r.endpoint == endpoint)
            .cloned()
    }

    /// The user codes of the device codes handed out and not yet redeemed, oldest first.
    #[must_use]
    pub fn pending_user_codes(&self) -> Vec<String> {
        let st = self.shared.state();
        let mut grants: Vec<&crate::device_code::DeviceGrant> = st.device_codes.values().collect();
        grants.sort_by_key(|g| g.issued);
        grants.iter().map(|g| g.user_code.clone()).collect()
    }

    /// Approves the device code shown as `user_code`, as the default user signing in at the
    /// verification page. `false` when no such code is pending.
    pub fn approve_device_code(&self, user_code: &str) -> bool {
        let Some(user) = self.shared.state().default_user().cloned() else {
            return false;
        };
        self.approve_device_code_as(user_code, &user)
    }

    /// Approves the device code shown as `user_code` as `user`.
    pub fn approve_device_code_as(&self, user_code: &str, user: &TestUser) -> bool {
        self.shared.state().set_device_code_status(
            user_code,
            crate::device_code::DeviceCodeStatus::Approved(user.clone()),
        )
    }

    /// Declines the device code shown as `user_code` (the user pressed "Cancel").
    pub fn decline_device_code(&self, user_code: &str) -> bool {
        self.shared
            .state()
            .set_device_code_status(user_code, crate::device_code::DeviceCodeStatus::Declined)
    }

    /// Lets the device code shown as `user_code` expire now.
    pub fn expire_device_code(&self, user_code: &str) -> bool {
        self.shared
            .state()
            .set_device_code_status(user_code, crate::device_code::DeviceCodeStatus::Expired)
    }

    /// How many device code polls (token requests with the device code grant) arrived.
    #[must_use]
    pub fn device_code_polls(&self) -> usize {
        self.requests_to(Endpoint::Token)
            .iter()
            .filter(|r| r.grant_type() == Some(crate::device_code::DEVICE_CODE_GRANT))
            .count()
    }

    /// How many requests reached `endpoint` since start or the last [`clear_log`](Self::clear_log).
    #[must_use]
    pub fn count(&self, endpoint: Endpoint) -> u64 {
        self.shared
            .state()
            .counts
            .get(&endpoint)
            .copied()
            .unwrap_or(0)
    }

    /// How many requests reached the mock (all endpoints).
    #[must_use]
    pub fn total_requests(&self) -> u64 {
        self.shared.state().counts.values().sum()
    }

    /// Empties the log and zeroes the counters (codes and tokens stay valid).
    pub fn clear_log(&self) {
        let mut st = self.shared.state();
        st.log.clear();
        st.counts.clear();
    }

    // ---- faults ----

    /// Makes the next request to `endpoint` fail with `fault`.
    pub fn inject_fault(&self, endpoint: Endpoint, fault: Fault) {
        self.inject_fault_times(endpoint, fault, FaultTimes::Next(1));
    }

    /// Makes the next `n` requests to `endpoint` fail with `fault`, or all of them.
    /// Queued faults run before a persistent one.
    pub fn inject_fault_times(&self, endpoint: Endpoint, fault: Fault, times: FaultTimes) {
        let mut st = self.shared.state();
        push_fault(st.faults.entry(endpoint).or_default(), fault, times);
    }

    /// Holds every request to `endpoint` at a [`Gate`] until the test opens it (then they
    /// are answered normally, faults included). A second call replaces the gate.
    pub fn hold(&self, endpoint: Endpoint) -> Gate {
        let gate = Gate::default();
        self.shared.state().gates.insert(endpoint, gate.clone());
        gate
    }

    /// Removes every queued and persistent fault.
    pub fn clear_faults(&self) {
        self.shared.state().faults.clear();
    }

    // ---- behaviour ----

    /// Sets or clears the claims challenge (see [`ClaimsChallenge`]).
    pub fn set_claims_challenge(&self, challenge: Option<ClaimsChallenge>) {
        self.shared.state().settings.claims_challenge = challenge;
    }

    /// The claims challenge in force, if any (it clears itself once satisfied unless
    /// [persistent](ClaimsChallenge::persistent)).
    #[must_use]
    pub fn claims_challenge(&self) -> Option<ClaimsChallenge> {
        self.shared.state().settings.claims_challenge.clone()
    }

    /// The client capabilities (`xms_cc` values, e.g. `["CP1"]`) the last token request
    /// carried in its `claims`; `Some(vec![])` when it had no capabilities, `None` before any
    /// token request.
    #[must_use]
    pub fn last_client_capabilities(&self) -> Option<Vec<String>> {
        self.shared.state().last_client_capabilities.clone()
    }

    /// The `claims` parameter of the last token request (`None` if it had none).
    #[must_use]
    pub fn last_claims(&self) -> Option<String> {
        self.shared.state().last_claims.clone()
    }

    /// Sets or clears the refusal every authorize request gets.
    pub fn set_authorize_refusal(&self, refusal: Option<AuthorizeRefusal>) {
        self.shared.state().settings.authorize_refusal = refusal;
    }

    /// Switches the HTML sign-in page on or off.
    pub fn set_sign_in_page(&self, on: bool) {
        self.shared.state().settings.sign_in_page = on;
    }

    /// Changes the access token lifetime for tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.shared.state().settings.token_lifetime = lifetime;
    }

    /// Changes `refresh_in` for tokens issued from now on.
    pub fn set_refresh_in(&self, refresh_in: Option<Duration>) {
        self.shared.state().settings.refresh_in = refresh_in;
    }

    /// Revokes every refresh token (as a password reset or admin revocation does).
    pub fn revoke_refresh_tokens(&self) {
        let mut st = self.shared.state();
        let now = Instant::now();
        let revoked: Vec<String> = st.refresh_tokens.drain().map(|(k, _)| k).collect();
        for rt in revoked {
            st.revoked_refresh_tokens.insert(rt, now);
        }
    }

    /// How many refresh tokens are currently valid.
    #[must_use]
    pub fn live_refresh_tokens(&self) -> usize {
        self.shared.state().refresh_tokens.len()
    }

    // ---- users and tenants ----

    /// The default sign-in user.
    #[must_use]
    pub fn default_user(&self) -> TestUser {
        let st = self.shared.state();
        st.default_user()
            .cloned()
            .unwrap_or_else(|| TestUser::new(DEFAULT_USERNAME, DEFAULT_TENANT_ID))
    }

    /// A configured user by username.
    #[must_use]
    pub fn user(&self, username: &str) -> Option<TestUser> {
        self.shared.state().user(username).cloned()
    }

    /// Every configured user.
    #[must_use]
    pub fn users(&self) -> Vec<TestUser> {
        self.shared.state().settings.users.clone()
    }

    /// Adds a user after start.
    pub fn add_user(&self, user: TestUser) {
        self.shared.state().settings.users.push(user);
    }

    /// Makes `username` the default sign-in user; `false` if no such user exists.
    pub fn set_default_user(&self, username: &str) -> bool {
        let mut st = self.shared.state();
        match st
            .settings
            .users
            .iter()
            .position(|u| u.username().eq_ignore_ascii_case(username))
        {
            Some(i) => {
                st.settings.default_user = i;
                true
            }
            None => false,
        }
    }

    /// Every configured tenant (the default tenant first).
    #[must_use]
    pub fn tenants(&self) -> Vec<TestTenant> {
        self.shared.state().settings.tenants.clone()
    }

    /// The default tenant (`contoso.onmicrosoft.com`, [`DEFAULT_TENANT_ID`](crate::DEFAULT_TENANT_ID)).
    #[must_use]
    pub fn default_tenant(&self) -> TestTenant {
        TestTenant::new(DEFAULT_TENANT_ID, DEFAULT_TENANT_DOMAIN)
    }

    /// Adds a tenant after start.
    pub fn add_tenant(&self, tenant: TestTenant) {
        self.shared.state().settings.tenants.push(tenant);
    }

    /// Verifies an RS256 token issued by this mock and returns its claims (for tests that want
    /// to check signatures; clients need not).
    ///
    /// # Errors
    /// [`MockError::InvalidToken`] when the signature or format is wrong (expiry, audience and
    /// issuer are not checked).
    pub fn verify_token(&self, token: &str) -> Result<serde_json::Value, MockError> {
        self.shared.key.verify(token)
    }
}
