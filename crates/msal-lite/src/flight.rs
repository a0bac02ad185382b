//! [`SingleFlight`]: concurrent callers for one key share one computation. The endpoint
//! resolver (one discovery per authority) and the credentials' silent path (one refresh, one
//! prompt per request key) both stand on it.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// The last result of one key, and its generation.
struct Slot<V> {
    generation: u64,
    last: Option<V>,
}

struct Flight<V> {
    /// The generation of the last published result (read without the lock).
    published: AtomicU64,
    /// Callers queued behind the one computing (for diagnostics and event-driven tests).
    queued: AtomicU64,
    slot: tokio::sync::Mutex<Slot<V>>,
}

impl<V> Default for Flight<V> {
    fn default() -> Self {
        Self {
            published: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            slot: tokio::sync::Mutex::new(Slot {
                generation: 0,
                last: None,
            }),
        }
    }
}

/// One computation per key at a time; callers that arrive while it runs get a clone of its
/// result. A caller that arrives after it finished computes anew (nothing is cached here: the
/// caller decides what to keep). When the computing caller is cancelled (its future dropped),
/// the next queued caller computes.
///
/// ```
/// use entra_msal_lite::flight::SingleFlight;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let flights: SingleFlight<&str, u32> = SingleFlight::default();
/// let slow = || async {
///     tokio::task::yield_now().await; // the second caller joins meanwhile
///     1
/// };
/// let (a, b) = tokio::join!(flights.run("k", slow), flights.run("k", || async { 2 }));
/// assert_eq!((a, b), (1, 1), "the second caller got the first one's result");
/// // Afterwards a caller computes anew.
/// assert_eq!(flights.run("k", || async { 3 }).await, 3);
/// # });
/// ```
pub struct SingleFlight<K, V> {
    map: Mutex<HashMap<K, Arc<Flight<V>>>>,
}

impl<K, V> Default for SingleFlight<K, V> {
    fn default() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl<K, V> std::fmt::Debug for SingleFlight<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self.map.lock().map_or(0, |m| m.len());
        f.debug_struct("SingleFlight")
            .field("in_flight", &keys)
            .finish()
    }
}

impl<K: Hash + Eq + Clone, V: Clone> SingleFlight<K, V> {
    /// Runs `compute` for `key`, unless a computation for `key` finishes while this caller
    /// waits for it, whose result is returned instead.
    pub async fn run<F, Fut>(&self, key: K, compute: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let flight = {
            let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(map.entry(key.clone()).or_default())
        };
        let seen = flight.published.load(Ordering::Acquire);
        flight.queued.fetch_add(1, Ordering::SeqCst);
        let mut slot = flight.slot.lock().await;
        flight.queued.fetch_sub(1, Ordering::SeqCst);
        if slot.generation > seen
            && let Some(last) = slot.last.clone()
        {
            return last;
        }
        let result = compute().await;
        slot.generation += 1;
        slot.last = Some(result.clone());
        flight.published.store(slot.generation, Ordering::Release);
        drop(slot);
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        // Nobody else holds it: forget it so the map stays small.
        if Arc::strong_count(&flight) == 2 {
            map.remove(&key);
        }
        result
    }

    /// How many callers wait behind a computation of `key` in progress (0 when none runs).
    #[must_use]
    pub fn queued(&self, key: &K) -> usize {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .map_or(0, |f| {
                usize::try_from(f.queued.load(Ordering::SeqCst)).unwrap_or(usize::MAX)
            })
    }

    /// Forgets every key (computations in progress finish for their callers).
    pub fn clear(&self) {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}
