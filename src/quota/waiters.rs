//! The requests waiting for a slot, by priority, kept the same way by both gates: an
//! interactive caller's request goes before bulk requests, and both before background fills.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

use super::Priority;

/// How many interactive and bulk requests of this process wait for a slot. Background fills
/// are not counted: nobody yields to them.
#[derive(Debug, Default)]
pub(crate) struct Waiters {
    interactive: AtomicUsize,
    bulk: AtomicUsize,
}

impl Waiters {
    /// Counts a request of `priority` as waiting for as long as the returned guard lives, so a
    /// cancelled request stops holding back the others the moment its future is dropped.
    /// Leaving wakes `changed`: a waiter held back by this one may go now.
    pub(crate) fn enter<'a>(
        &'a self,
        priority: Priority,
        changed: &'a Notify,
    ) -> Option<Waiting<'a>> {
        let count = match priority {
            Priority::Interactive => &self.interactive,
            Priority::Bulk => &self.bulk,
            Priority::Background => return None,
        };
        count.fetch_add(1, Ordering::SeqCst);
        Some(Waiting { count, changed })
    }

    /// Requests waiting that go before an ask of `priority`.
    pub(crate) fn ahead_of(&self, priority: Priority) -> usize {
        let interactive = self.interactive.load(Ordering::SeqCst);
        match priority {
            Priority::Interactive => 0,
            Priority::Bulk => interactive,
            Priority::Background => interactive + self.bulk.load(Ordering::SeqCst),
        }
    }

    /// Every counted request (the snapshot's `interactive_waiters`).
    pub(crate) fn total(&self) -> usize {
        self.ahead_of(Priority::Background)
    }
}

/// One waiting request; dropping it stops counting it.
pub(crate) struct Waiting<'a> {
    count: &'a AtomicUsize,
    changed: &'a Notify,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
        self.changed.notify_waiters();
    }
}
