//! The device authorization grant's data, as Entra ID keeps it: a pending code, its user
//! code and its status, which a test approves, declines or expires through
//! [`MockEntra`](crate::MockEntra). The endpoints that hand codes out and poll them are in
//! `endpoints/device_code.rs`.

use std::time::Instant;

use crate::users::TestUser;
use crate::util::random_token;

/// The polling grant type.
pub(crate) const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Where users enter the code.
pub(crate) const VERIFICATION_URI: &str = "https://microsoft.com/devicelogin";

/// Where a device code stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DeviceCodeStatus {
    /// The user has not finished yet.
    Pending,
    /// The user signed in (as this user).
    Approved(TestUser),
    /// The user declined.
    Declined,
    /// Expired early (a test hook).
    Expired,
}

/// A device code handed out and not yet redeemed.
#[derive(Clone, Debug)]
pub(crate) struct DeviceGrant {
    pub(crate) client_id: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) user_code: String,
    pub(crate) tenant: String,
    pub(crate) status: DeviceCodeStatus,
    pub(crate) issued: Instant,
}

/// A user code in Entra's shape: nine upper-case letters and digits.
pub(crate) fn user_code() -> String {
    random_token(2)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .take(9)
        .collect()
}
