//! The fast path and the single-flight gate.
//!
//! [`FrontCache`] holds the ready [`AccessTokenInfo`] of each (scopes, tenant, CAE) key in an
//! immutable map behind an [`ArcSwap`]: a hit is one atomic load, a hash, a comparison and a
//! clone, with no lock at all (writers publish a new map). It sits in front of the MSAL cache,
//! which stays the source of truth.
//!
//! [`Flights`] makes concurrent requests for the same key share one acquisition: the first
//! caller runs it, the others wait for it and take its result, so 100 concurrent callers cause
//! at most one refresh request and at most one browser prompt. Other keys are not blocked.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use entra_core::{AccessToken, AccessTokenInfo, Result, Secret};
use entra_msal_lite::flight::SingleFlight;
use time::{Duration, OffsetDateTime};

/// A cached access token counts as expired this long before `expires_on`: the cache's own
/// rule ([`entra_cache::EXPIRY_BUFFER_SECONDS`], MSAL's five minutes), so the front map and
/// the MSAL cache never disagree.
pub(crate) const EXPIRY_BUFFER: Duration = Duration::seconds(entra_cache::EXPIRY_BUFFER_SECONDS);

/// At most this many keys are kept; past it, entries no longer usable are dropped, then all.
const MAX_ENTRIES: usize = 256;

struct FrontEntry {
    scopes: Box<[String]>,
    tenant: Box<str>,
    cae: bool,
    info: AccessTokenInfo,
    /// The first instant the entry must not be served from the front: the expiry buffer or
    /// `refresh_on`, whichever comes first.
    stale_at: SystemTime,
}

type FrontMap = HashMap<u64, Vec<Arc<FrontEntry>>>;

/// Ready tokens by (scopes, tenant, CAE).
pub(crate) struct FrontCache {
    map: ArcSwap<FrontMap>,
    /// Bumped after every change of `map`: a per-thread memo taken at version `v` is valid
    /// while the version is still `v`.
    version: AtomicU64,
    hasher: RandomState,
    /// Tells this cache's entries apart from other caches' in the per-thread memo.
    id: u64,
}

/// The source of [`FrontCache`] ids.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The last token this thread was served, with its own copy of the token: a hit on the same
/// key touches no memory other threads write (the reference count of a shared token would
/// bounce between cores), and needs no hash.
struct Memo {
    cache: u64,
    /// The cache's version when the entry was read (read before the map): the memo is valid
    /// only while the version is unchanged (any insert or clear bumps it).
    version: u64,
    entry: Arc<FrontEntry>,
    /// This thread's copy of the entry's token.
    token: Secret,
}

thread_local! {
    static MEMO: RefCell<Option<Memo>> = const { RefCell::new(None) };
}

impl FrontEntry {
    fn is_for<S: AsRef<str>>(&self, scopes: &[S], tenant: &str, cae: bool) -> bool {
        self.cae == cae
            && *self.tenant == *tenant
            && self.scopes.len() == scopes.len()
            && self.scopes.iter().zip(scopes).all(|(a, b)| a == b.as_ref())
    }
}

impl std::fmt::Debug for FrontCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrontCache")
            .field(
                "keys",
                &self.map.load().values().map(Vec::len).sum::<usize>(),
            )
            .finish()
    }
}

fn key_hash<S: AsRef<str>>(hasher: &RandomState, scopes: &[S], tenant: &str, cae: bool) -> u64 {
    let mut h = hasher.build_hasher();
    scopes.len().hash(&mut h);
    for s in scopes {
        s.as_ref().hash(&mut h);
    }
    tenant.hash(&mut h);
    cae.hash(&mut h);
    h.finish()
}

/// When a token stops being served from a cache without a network request.
pub(crate) fn stale_at(info: &AccessTokenInfo) -> OffsetDateTime {
    let expiry = info.expires_on - EXPIRY_BUFFER;
    match info.refresh_on {
        Some(r) if r < expiry => r,
        _ => expiry,
    }
}

impl FrontCache {
    pub(crate) fn new() -> Self {
        Self {
            map: ArcSwap::from_pointee(HashMap::new()),
            version: AtomicU64::new(0),
            hasher: RandomState::new(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The ready token for the key as an [`AccessToken`], if it is still fresh at `now`: the
    /// hot path of `get_token`. A repeated hit on one thread is served from that thread's memo
    /// (its own copy of the token), so threads serving the same token do not contend.
    pub(crate) fn get_token(
        &self,
        scopes: &[&str],
        tenant: &str,
        cae: bool,
        now: SystemTime,
    ) -> Option<AccessToken> {
        let version = self.version.load(Ordering::Acquire);
        let memo = MEMO.with(|memo| {
            let memo = memo.try_borrow().ok()?;
            let m = memo.as_ref()?;
            (m.cache == self.id && m.version == version && m.entry.is_for(scopes, tenant, cae))
                .then(|| {
                    (now < m.entry.stale_at)
                        .then(|| AccessToken::new(m.token.clone(), m.entry.info.expires_on))
                })
        });
        if let Some(answer) = memo {
            return answer;
        }
        let map = self.map.load();
        let entry = self.find(&map, scopes, tenant, cae)?;
        if now >= entry.stale_at {
            return None;
        }
        let token = Secret::new(entry.info.token.secret());
        let answer = AccessToken::new(token.clone(), entry.info.expires_on);
        MEMO.with(|memo| {
            if let Ok(mut memo) = memo.try_borrow_mut() {
                *memo = Some(Memo {
                    cache: self.id,
                    version,
                    entry: Arc::clone(entry),
                    token,
                });
            }
        });
        Some(answer)
    }

    /// `read` of the ready token for the key, if it is still fresh at `now` (so a caller can
    /// take only what it needs, with no clone of the rest).
    pub(crate) fn get_with<T>(
        &self,
        scopes: &[&str],
        tenant: &str,
        cae: bool,
        now: OffsetDateTime,
        read: impl FnOnce(&AccessTokenInfo) -> T,
    ) -> Option<T> {
        let map = self.map.load();
        let entry = self.find(&map, scopes, tenant, cae)?;
        (SystemTime::from(now) < entry.stale_at).then(|| read(&entry.info))
    }

    /// The entry of the key in `map`.
    fn find<'m>(
        &self,
        map: &'m FrontMap,
        scopes: &[&str],
        tenant: &str,
        cae: bool,
    ) -> Option<&'m Arc<FrontEntry>> {
        map.get(&key_hash(&self.hasher, scopes, tenant, cae))?
            .iter()
            .find(|e| e.is_for(scopes, tenant, cae))
    }

    /// The ready token for the key, if it is still fresh at `now`.
    pub(crate) fn get(
        &self,
        scopes: &[&str],
        tenant: &str,
        cae: bool,
        now: OffsetDateTime,
    ) -> Option<AccessTokenInfo> {
        self.get_with(scopes, tenant, cae, now, Clone::clone)
    }

    /// Publishes a token for the key.
    pub(crate) fn insert(&self, scopes: &[&str], tenant: &str, cae: bool, info: &AccessTokenInfo) {
        let hash = key_hash(&self.hasher, scopes, tenant, cae);
        let entry = Arc::new(FrontEntry {
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            tenant: tenant.into(),
            cae,
            info: info.clone(),
            stale_at: SystemTime::from(stale_at(info)),
        });
        self.map.rcu(|old| {
            let mut new: FrontMap = (**old).clone();
            let count: usize = new.values().map(Vec::len).sum();
            if count >= MAX_ENTRIES {
                let now = SystemTime::now();
                new.retain(|_, v| {
                    v.retain(|e| now < e.stale_at);
                    !v.is_empty()
                });
                if new.values().map(Vec::len).sum::<usize>() >= MAX_ENTRIES {
                    new.clear();
                }
            }
            let bucket = new.entry(hash).or_default();
            bucket.retain(|e| !e.is_for(scopes, tenant, cae));
            bucket.push(Arc::clone(&entry));
            new
        });
        self.version.fetch_add(1, Ordering::Release);
    }

    /// Forgets every token (a different user signed in, or the credential was closed).
    pub(crate) fn clear(&self) {
        self.map.store(Arc::new(HashMap::new()));
        self.version.fetch_add(1, Ordering::Release);
    }
}

/// The key of one acquisition.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FlightKey {
    pub(crate) scopes: Vec<String>,
    pub(crate) tenant: String,
    pub(crate) cae: bool,
    pub(crate) claims: Option<String>,
}

/// A result shared with the callers that waited: the token, or the very error (its source,
/// reason and help link included: `entra_core::Error` is `Clone`).
type Shared = Result<AccessTokenInfo>;

/// The single-flight gate of the silent path: entra-msal-lite's [`SingleFlight`] (the one the
/// endpoint resolver uses too), carrying a shareable copy of the outcome.
#[derive(Debug, Default)]
pub(crate) struct Flights(SingleFlight<FlightKey, Shared>);

impl Flights {
    /// How many callers are queued behind an acquisition of `key` in progress.
    #[cfg(test)]
    fn queued(&self, key: &FlightKey) -> u64 {
        self.0.queued(key) as u64
    }

    /// Runs `acquire` for `key` unless an acquisition for the same key finishes while this
    /// caller waits, in which case its result is returned instead.
    pub(crate) async fn run<F, Fut>(&self, key: FlightKey, acquire: F) -> Result<AccessTokenInfo>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessTokenInfo>>,
    {
        // Every caller, the one that computed and those that waited, gets the same result.
        self.0.run(key, acquire).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use entra_core::Error;
    use std::error::Error as _;
    use std::sync::atomic::AtomicUsize;

    fn info(token: &str, expires_in: i64) -> AccessTokenInfo {
        AccessTokenInfo::new(
            token,
            OffsetDateTime::now_utc() + Duration::seconds(expires_in),
        )
    }

    #[test]
    fn front_hits_only_the_exact_fresh_key() {
        let front = FrontCache::new();
        let now = OffsetDateTime::now_utc();
        front.insert(&["a", "b"], "t", false, &info("x", 3600));
        assert_eq!(
            front
                .get(&["a", "b"], "t", false, now)
                .unwrap()
                .token
                .secret(),
            "x"
        );
        assert!(front.get(&["a"], "t", false, now).is_none());
        assert!(front.get(&["a", "b"], "t", true, now).is_none());
        assert!(front.get(&["a", "b"], "u", false, now).is_none());
        // Within five minutes of expiry: not served.
        front.insert(&["c"], "t", false, &info("y", 200));
        assert!(front.get(&["c"], "t", false, now).is_none());
        // Past refresh_on: not served.
        let aging = info("z", 3600).with_refresh_on(Some(now - Duration::seconds(1)));
        front.insert(&["d"], "t", false, &aging);
        assert!(front.get(&["d"], "t", false, now).is_none());
        // Replacing keeps one entry per key.
        front.insert(&["a", "b"], "t", false, &info("x2", 3600));
        assert_eq!(
            front
                .get(&["a", "b"], "t", false, now)
                .unwrap()
                .token
                .secret(),
            "x2"
        );
        front.clear();
        assert!(front.get(&["a", "b"], "t", false, now).is_none());
    }

    #[test]
    fn the_per_thread_memo_never_outlives_a_change_of_the_map() {
        let front = FrontCache::new();
        let other = FrontCache::new();
        let now = SystemTime::now();
        front.insert(&["a"], "t", false, &info("first", 3600));
        other.insert(&["a"], "t", false, &info("other", 3600));
        // A miss fills the memo, a hit reads it; another cache's memo never answers.
        for _ in 0..2 {
            assert_eq!(
                front
                    .get_token(&["a"], "t", false, now)
                    .unwrap()
                    .token
                    .secret(),
                "first"
            );
            assert_eq!(
                other
                    .get_token(&["a"], "t", false, now)
                    .unwrap()
                    .token
                    .secret(),
                "other"
            );
        }
        assert!(front.get_token(&["a"], "u", false, now).is_none());
        assert!(front.get_token(&["a"], "t", true, now).is_none());
        // A new token for the key replaces the remembered one at once.
        front.insert(&["a"], "t", false, &info("second", 3600));
        assert_eq!(
            front
                .get_token(&["a"], "t", false, now)
                .unwrap()
                .token
                .secret(),
            "second"
        );
        // So does forgetting everything (sign-out, another user, close).
        front.clear();
        assert!(front.get_token(&["a"], "t", false, now).is_none());
        // And a remembered token past its refresh point is not served.
        front.insert(&["b"], "t", false, &info("aging", 3600));
        assert!(front.get_token(&["b"], "t", false, now).is_some());
        let later = now + std::time::Duration::from_secs(56 * 60);
        assert!(front.get_token(&["b"], "t", false, later).is_none());
    }

    #[test]
    fn front_stays_bounded() {
        let front = FrontCache::new();
        for i in 0..(MAX_ENTRIES * 2) {
            let scope = format!("s{i}");
            front.insert(&[scope.as_str()], "t", false, &info("x", 3600));
        }
        let count: usize = front.map.load().values().map(Vec::len).sum();
        assert!(count <= MAX_ENTRIES);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_share_one_acquisition() {
        let flights = Arc::new(Flights::default());
        let front = Arc::new(FrontCache::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let (release_tx, release_rx) = tokio::sync::watch::channel(false);
        let key = FlightKey {
            scopes: vec!["a".into()],
            tenant: "t".into(),
            cae: false,
            claims: None,
        };
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (flights, front, runs) =
                (Arc::clone(&flights), Arc::clone(&front), Arc::clone(&runs));
            let key = key.clone();
            let mut release = release_rx.clone();
            tasks.push(tokio::spawn(async move {
                flights
                    .run(key, || async move {
                        // As the credential does: look again once inside the gate.
                        if let Some(hit) = front.get(&["a"], "t", false, OffsetDateTime::now_utc())
                        {
                            return Ok(hit);
                        }
                        runs.fetch_add(1, Ordering::SeqCst);
                        let _ = release.wait_for(|v| *v).await;
                        let token = info("shared", 3600);
                        front.insert(&["a"], "t", false, &token);
                        Ok(token)
                    })
                    .await
            }));
        }
        // Hold the first acquisition open until all the others are queued at the gate, so
        // every one of them really takes the shared result.
        while runs.load(Ordering::SeqCst) == 0 || flights.queued(&key) < 49 {
            tokio::task::yield_now().await;
        }
        release_tx.send(true).unwrap();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap().token.secret(), "shared");
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn waiters_share_a_failure_and_later_callers_retry() {
        let flights = Flights::default();
        let key = FlightKey {
            scopes: vec!["a".into()],
            tenant: "t".into(),
            cae: false,
            claims: None,
        };
        let err = flights
            .run(key.clone(), || async {
                Err(Error::credential_unavailable("Failed to open a browser").with_credential("C"))
            })
            .await
            .unwrap_err();
        assert!(err.is_credential_unavailable());
        // A caller arriving afterwards runs its own acquisition.
        let ok = flights
            .run(key, || async { Ok(info("later", 3600)) })
            .await
            .unwrap();
        assert_eq!(ok.token.secret(), "later");
        // The waiters' error is the computing caller's own: same source and help link.
        let cause = std::io::Error::other("the browser could not start");
        let computer = Error::credential_unavailable("Failed to open a browser")
            .with_credential("C")
            .with_help("https://example.invalid/help")
            .with_source(cause);
        let waiter = computer.clone();
        assert_eq!(waiter.to_string(), computer.to_string());
        assert_eq!(waiter.help(), Some("https://example.invalid/help"));
        assert_eq!(
            waiter.source().map(ToString::to_string).as_deref(),
            Some("the browser could not start")
        );
    }
}
