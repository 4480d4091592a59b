//! The bounded, de-duplicated queue of observables waiting for a background fill.

use std::collections::{HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;

use tokio::sync::Notify;

use crate::metrics::Metrics;

/// FIFO of addresses to fetch when quota frees up; each address is queued at most once.
///
/// An address stays a member from [`DeferredQueue::push`] until [`DeferredQueue::finish`], so
/// the depth counts the one being filled and a deferral arriving meanwhile is not queued twice.
pub struct DeferredQueue {
    state: Mutex<State>,
    notify: Notify,
    capacity: usize,
    metrics: Metrics,
}

#[derive(Default)]
struct State {
    /// Waiting to be taken by the filler.
    order: VecDeque<IpAddr>,
    /// Waiting or being filled.
    members: HashSet<IpAddr>,
}

/// What [`DeferredQueue::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    AlreadyQueued,
    /// The queue is full; counted in `vtenrich_deferred_dropped_total`.
    Dropped,
}

impl DeferredQueue {
    /// An empty queue holding at most `capacity` addresses.
    pub fn new(capacity: usize, metrics: Metrics) -> Self {
        Self {
            state: Mutex::new(State::default()),
            notify: Notify::new(),
            capacity,
            metrics,
        }
    }

    /// Queues `ip` unless it is already waiting or the queue is full.
    pub fn push(&self, ip: IpAddr) -> Pushed {
        let mut state = self.state.lock().expect("deferred lock");
        if state.members.contains(&ip) {
            return Pushed::AlreadyQueued;
        }
        if state.members.len() >= self.capacity {
            drop(state);
            self.metrics.deferred_dropped.inc();
            tracing::warn!(
                capacity = self.capacity,
                "deferred queue full; an observable will not be filled in the background"
            );
            return Pushed::Dropped;
        }
        state.members.insert(ip);
        state.order.push_back(ip);
        self.metrics.deferred_depth.set(state.members.len() as i64);
        drop(state);
        self.notify.notify_one();
        Pushed::Queued
    }

    /// Waits for the oldest address and hands it to the filler, which calls
    /// [`DeferredQueue::finish`] when done with it.
    pub async fn pop(&self) -> IpAddr {
        loop {
            // Register interest before checking, so a push between the check and the await
            // is not missed.
            let notified = self.notify.notified();
            if let Some(ip) = self.try_pop() {
                return ip;
            }
            notified.await;
        }
    }

    fn try_pop(&self) -> Option<IpAddr> {
        let mut state = self.state.lock().expect("deferred lock");
        state.order.pop_front()
    }

    /// The filler is done with `ip` (filled, or no longer needed).
    pub fn finish(&self, ip: IpAddr) {
        let mut state = self.state.lock().expect("deferred lock");
        state.members.remove(&ip);
        self.metrics.deferred_depth.set(state.members.len() as i64);
    }

    /// Whether `ip` is waiting for or in a background fill.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.state
            .lock()
            .expect("deferred lock")
            .members
            .contains(ip)
    }

    /// Addresses waiting for or in a background fill.
    pub fn depth(&self) -> usize {
        self.state.lock().expect("deferred lock").members.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_queue_deduplicates_bounds_and_counts_overflow() {
        let metrics = Metrics::new();
        let queue = DeferredQueue::new(2, metrics.clone());
        let a: IpAddr = "8.8.8.8".parse().unwrap();
        let b: IpAddr = "1.1.1.1".parse().unwrap();
        let c: IpAddr = "9.9.9.9".parse().unwrap();
        assert_eq!(queue.push(a), Pushed::Queued);
        assert_eq!(queue.push(a), Pushed::AlreadyQueued);
        assert_eq!(queue.push(b), Pushed::Queued);
        assert_eq!(queue.push(c), Pushed::Dropped);
        assert_eq!(metrics.deferred_dropped.get(), 1);
        assert_eq!(queue.depth(), 2);
        assert_eq!(queue.pop().await, a);
        assert_eq!(queue.push(a), Pushed::AlreadyQueued, "still being filled");
        assert_eq!(queue.depth(), 2, "the address being filled still counts");
        queue.finish(a);
        assert_eq!(queue.pop().await, b);
        queue.finish(b);
        assert_eq!(metrics.deferred_depth.get(), 0);
        assert_eq!(queue.push(c), Pushed::Queued);
    }
}
