//! The bounded, de-duplicated queue of observables waiting for a background fill, shared
//! fairly between callers.
//!
//! Why shares: one caller deferring thousands of junk addresses would otherwise fill the
//! queue, push out everyone else's lookups, and then spend the day's quota on its junk. Each
//! entry remembers the caller that deferred it; when the queue is full, the caller holding
//! the most entries loses its oldest one, but only while it holds more than its fair share
//! (capacity / callers with entries). A caller within its share is never pushed out.

use crate::observable::Observable;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use tokio::sync::Notify;

pub use crate::caller::Caller;
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
    /// Waiting to be taken by the filler, oldest first.
    order: VecDeque<Observable>,
    /// Waiting or being filled, with the caller that deferred it.
    members: HashMap<Observable, Caller>,
    /// Each caller's waiting addresses, oldest first (what it can lose to a fuller queue).
    waiting: HashMap<Caller, VecDeque<Observable>>,
    /// Members per caller, being filled included.
    held: HashMap<Caller, usize>,
}

/// What [`DeferredQueue::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    AlreadyQueued,
    /// Queued in place of the oldest entry of a caller holding more than its share; the
    /// dropped entry is counted in `vtenrich_deferred_dropped_total`.
    QueuedInstead,
    /// The queue is full and this caller holds at least its share; counted in
    /// `vtenrich_deferred_dropped_total`.
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

    /// Queues `observable` for `caller` unless it is already a member. When the queue is full, the
    /// oldest waiting entry of the caller over its share makes room; if there is none,
    /// `observable` is dropped.
    pub fn push(&self, observable: Observable, caller: &Caller) -> Pushed {
        let mut state = self.state.lock().expect("deferred lock");
        if state.members.contains_key(&observable) {
            return Pushed::AlreadyQueued;
        }
        let mut pushed = Pushed::Queued;
        if state.members.len() >= self.capacity {
            let Some(victim) = state.over_share(caller, self.capacity) else {
                drop(state);
                self.dropped("deferred queue full and this caller holds its share; an observable will not be filled in the background");
                return Pushed::Dropped;
            };
            state.evict_oldest(&victim);
            pushed = Pushed::QueuedInstead;
        }
        state.members.insert(observable.clone(), caller.clone());
        state.order.push_back(observable.clone());
        state
            .waiting
            .entry(caller.clone())
            .or_default()
            .push_back(observable);
        *state.held.entry(caller.clone()).or_default() += 1;
        self.metrics.deferred_depth.set(state.members.len() as i64);
        drop(state);
        if pushed == Pushed::QueuedInstead {
            self.dropped("deferred queue full; the oldest entry of the caller over its share made room for another caller's");
        }
        self.notify.notify_one();
        pushed
    }

    fn dropped(&self, what: &'static str) {
        self.metrics.deferred_dropped.inc();
        tracing::warn!(capacity = self.capacity, "{what}");
    }

    /// Waits for the oldest address and hands it to the filler with the caller that
    /// deferred it; the filler calls [`DeferredQueue::finish`] when done with it.
    pub async fn pop(&self) -> (Observable, Caller) {
        loop {
            // Register interest before checking, so a push between the check and the await
            // is not missed.
            let notified = self.notify.notified();
            if let Some(taken) = self.try_pop() {
                return taken;
            }
            notified.await;
        }
    }

    fn try_pop(&self) -> Option<(Observable, Caller)> {
        let mut state = self.state.lock().expect("deferred lock");
        let observable = state.order.pop_front()?;
        let caller = state.members.get(&observable)?.clone();
        state.unwait(&caller, &observable);
        Some((observable, caller))
    }

    /// The filler is done with `observable` (filled, or no longer needed).
    pub fn finish(&self, observable: &Observable) {
        let mut state = self.state.lock().expect("deferred lock");
        if let Some(caller) = state.members.remove(observable) {
            state.release(&caller);
        }
        self.metrics.deferred_depth.set(state.members.len() as i64);
    }

    /// Whether `observable` is waiting for or in a background fill.
    pub fn contains(&self, observable: &Observable) -> bool {
        self.state
            .lock()
            .expect("deferred lock")
            .members
            .contains_key(observable)
    }

    /// Addresses waiting for or in a background fill.
    pub fn depth(&self) -> usize {
        self.state.lock().expect("deferred lock").members.len()
    }
}

impl State {
    /// The caller to lose an entry so that `pusher` may queue one: the one holding the most,
    /// if that is not `pusher` (a tie goes against the pusher), it holds more than its fair
    /// share (counting `pusher` among the callers), and it has an entry still waiting.
    fn over_share(&self, pusher: &Caller, capacity: usize) -> Option<Caller> {
        let pusher_held = self.held.get(pusher).copied().unwrap_or(0);
        let callers = self.held.len() + usize::from(pusher_held == 0);
        let share = capacity / callers.max(1);
        // Ties go to the caller whose oldest waiting entry is oldest: deterministic, and the
        // entry dropped is the one that has waited longest anyway. Rare path: a linear search.
        let oldest = |caller: &Caller| {
            let front = self.waiting.get(caller).and_then(|w| w.front());
            let position =
                front.and_then(|observable| self.order.iter().position(|q| q == observable));
            std::cmp::Reverse(position.unwrap_or(usize::MAX))
        };
        let (victim, held) = self
            .held
            .iter()
            .filter(|(caller, _)| *caller != pusher)
            .max_by_key(|(caller, held)| (**held, oldest(caller)))?;
        let waiting = self.waiting.get(victim).is_some_and(|w| !w.is_empty());
        (*held > share && *held > pusher_held && waiting).then(|| victim.clone())
    }

    /// Drops the oldest waiting entry of `caller`.
    fn evict_oldest(&mut self, caller: &Caller) {
        let Some(observable) = self.waiting.get_mut(caller).and_then(VecDeque::pop_front) else {
            return;
        };
        self.members.remove(&observable);
        // Rare (a full queue and a caller over its share), so a linear search is fine.
        if let Some(index) = self.order.iter().position(|queued| *queued == observable) {
            self.order.remove(index);
        }
        self.release(caller);
    }

    /// `observable` of `caller` is no longer waiting (the filler took it).
    fn unwait(&mut self, caller: &Caller, observable: &Observable) {
        if let Some(waiting) = self.waiting.get_mut(caller) {
            // The filler takes entries in queue order, so this is almost always the front.
            if let Some(index) = waiting.iter().position(|queued| queued == observable) {
                waiting.remove(index);
            }
            if waiting.is_empty() {
                self.waiting.remove(caller);
            }
        }
    }

    /// One entry of `caller` has left the queue.
    fn release(&mut self, caller: &Caller) {
        if let Some(held) = self.held.get_mut(caller) {
            *held -= 1;
            if *held == 0 {
                self.held.remove(caller);
            }
        }
        if self.waiting.get(caller).is_some_and(VecDeque::is_empty) {
            self.waiting.remove(caller);
        }
    }
}

#[cfg(test)]
mod tests;
