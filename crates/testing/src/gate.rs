//! [`Gate`]: holds the requests to one endpoint until the test opens it, counting them as
//! they arrive, so a test can line up concurrent clients on an event instead of a timer.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Requests held at one endpoint of the mock (see [`MockEntra::hold`]): each waits, counted,
/// until [`open`](Self::open); then they and every later one are answered normally.
///
/// ```
/// # async fn demo() -> Result<(), entra_testing::MockError> {
/// use entra_testing::{Endpoint, MockEntra};
/// let mock = MockEntra::start().await?;
/// let gate = mock.hold(Endpoint::Token);
/// // ... start clients that post to the token endpoint ...
/// gate.arrivals(1).await; // the first one is waiting at the gate
/// gate.open();
/// # Ok(()) }
/// ```
///
/// [`MockEntra::hold`]: crate::MockEntra::hold
#[derive(Clone, Default)]
pub struct Gate {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    open: AtomicBool,
    opened: Notify,
    arrived: AtomicUsize,
    arrival: Notify,
}

impl Gate {
    /// Lets the held requests and every later one through.
    pub fn open(&self) {
        self.inner.open.store(true, Ordering::SeqCst);
        self.inner.opened.notify_waiters();
    }

    /// How many requests have reached the gate (held or let through).
    #[must_use]
    pub fn arrived(&self) -> usize {
        self.inner.arrived.load(Ordering::SeqCst)
    }

    /// Resolves once `n` requests have reached the gate.
    pub async fn arrivals(&self, n: usize) {
        loop {
            let arrival = self.inner.arrival.notified();
            tokio::pin!(arrival);
            arrival.as_mut().enable();
            if self.arrived() >= n {
                return;
            }
            arrival.await;
        }
    }

    /// A request reaches the gate: counted, then held until the gate is open.
    pub(crate) async fn pass(&self) {
        self.inner.arrived.fetch_add(1, Ordering::SeqCst);
        self.inner.arrival.notify_waiters();
        loop {
            let opened = self.inner.opened.notified();
            tokio::pin!(opened);
            opened.as_mut().enable();
            if self.inner.open.load(Ordering::SeqCst) {
                return;
            }
            opened.await;
        }
    }
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate")
            .field("open", &self.inner.open.load(Ordering::SeqCst))
            .field("arrived", &self.arrived())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::Gate;

    #[tokio::test]
    async fn held_requests_are_counted_and_pass_when_opened() {
        let gate = Gate::default();
        let held: Vec<_> = (0..3)
            .map(|_| {
                let gate = gate.clone();
                tokio::spawn(async move { gate.pass().await })
            })
            .collect();
        gate.arrivals(3).await;
        assert_eq!(gate.arrived(), 3);
        assert!(held.iter().all(|h| !h.is_finished()));
        gate.open();
        for h in held {
            h.await.unwrap();
        }
        // Open: a later request passes at once.
        gate.pass().await;
        assert_eq!(gate.arrived(), 4);
    }
}
