//! Test users and tenants the mock signs in.

use std::fmt;

use crate::util::random_guid;

/// The tenant id Entra uses for personal Microsoft accounts (the `consumers` tenant).
pub const MSA_TENANT_ID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// A directory (tenant) known to the mock: a GUID and, optionally, a verified domain name that
/// resolves to it (`/contoso.onmicrosoft.com/...` behaves like `/{id}/...`, as in Entra).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestTenant {
    id: String,
    domain: Option<String>,
}

impl TestTenant {
    /// A tenant with this GUID and domain name.
    pub fn new(id: impl Into<String>, domain: impl Into<String>) -> Self {
        Self {
            id: id.into().to_ascii_lowercase(),
            domain: Some(domain.into().to_ascii_lowercase()),
        }
    }

    /// A tenant known only by its GUID.
    pub fn with_id(id: impl Into<String>) -> Self {
        Self {
            id: id.into().to_ascii_lowercase(),
            domain: None,
        }
    }

    /// A tenant with a random GUID and this domain name.
    pub fn random(domain: impl Into<String>) -> Self {
        Self::new(random_guid(), domain)
    }

    /// The tenant id (GUID).
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The domain name, if any.
    #[must_use]
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }
}

/// A user the mock can sign in.
///
/// `username` becomes the ID token's `preferred_username` (`upn` on ADFS), `oid` its `oid` and
/// the `uid` of `client_info`, `home_tenant_id` the `utid` of `client_info` and the `tid` of
/// tokens issued through `common`/`organizations`.
///
/// ```
/// use entra_testing::TestUser;
///
/// let bob = TestUser::new("bob@contoso.onmicrosoft.com", "72f988bf-86f1-41af-91ab-2d7cd011db47")
///     .with_display_name("Bob");
/// assert_eq!(bob.display_name(), "Bob");
/// assert_eq!(bob.oid().len(), 36);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct TestUser {
    username: String,
    oid: String,
    home_tenant_id: String,
    display_name: String,
}

impl TestUser {
    /// A user with this username (UPN) in this home tenant; `oid` is a random GUID and the
    /// display name is the part of the username before `@`.
    pub fn new(username: impl Into<String>, home_tenant_id: impl Into<String>) -> Self {
        let username = username.into();
        let display_name = username.split('@').next().unwrap_or_default().to_owned();
        Self {
            username,
            oid: random_guid(),
            home_tenant_id: home_tenant_id.into().to_ascii_lowercase(),
            display_name,
        }
    }

    /// Sets the object id (`oid`, the `uid` of `client_info`).
    #[must_use]
    pub fn with_oid(mut self, oid: impl Into<String>) -> Self {
        self.oid = oid.into().to_ascii_lowercase();
        self
    }

    /// Sets the display name (`name` claim).
    #[must_use]
    pub fn with_display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = name.into();
        self
    }

    /// The username (`preferred_username`).
    #[must_use]
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The object id (`oid`).
    #[must_use]
    pub fn oid(&self) -> &str {
        &self.oid
    }

    /// The home tenant id.
    #[must_use]
    pub fn home_tenant_id(&self) -> &str {
        &self.home_tenant_id
    }

    /// The display name (`name`).
    #[must_use]
    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    /// The MSAL home account id: `{oid}.{home_tenant_id}`.
    #[must_use]
    pub fn home_account_id(&self) -> String {
        format!("{}.{}", self.oid, self.home_tenant_id)
    }
}

impl fmt::Debug for TestUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestUser")
            .field("username", &self.username)
            .field("oid", &self.oid)
            .field("home_tenant_id", &self.home_tenant_id)
            .finish_non_exhaustive()
    }
}
