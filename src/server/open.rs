//! The count of open client connections under the cap: admission, the `connections_open`
//! gauge, and waiting for the last one to close at shutdown.

use prometheus::IntGauge;
use tokio::sync::watch;

/// Open connections and the most allowed at once.
#[derive(Debug)]
pub(super) struct OpenConnections {
    count: watch::Sender<usize>,
    max: usize,
    gauge: IntGauge,
}

impl OpenConnections {
    pub(super) fn new(max: usize, gauge: IntGauge) -> Self {
        gauge.set(0);
        Self {
            count: watch::Sender::new(0),
            max,
            gauge,
        }
    }

    /// A place for one more connection, or `None` when `max` are open.
    pub(super) fn admit(&self) -> Option<OpenConnection> {
        let admitted = self.count.send_if_modified(|count| {
            if *count >= self.max {
                return false;
            }
            *count += 1;
            true
        });
        admitted.then(|| {
            self.gauge.inc();
            OpenConnection {
                count: self.count.clone(),
                gauge: self.gauge.clone(),
            }
        })
    }

    /// Resolves once every admitted connection has closed.
    pub(super) async fn all_closed(&self) {
        // Fails only once every sender is gone, and `self` holds one.
        let _ = self.count.subscribe().wait_for(|count| *count == 0).await;
    }
}

/// One admitted connection; its place is given back when dropped.
#[derive(Debug)]
pub(super) struct OpenConnection {
    count: watch::Sender<usize>,
    gauge: IntGauge,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.count.send_modify(|count| *count -= 1);
        self.gauge.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gauge() -> IntGauge {
        IntGauge::new("open", "open connections").expect("a valid gauge")
    }

    #[test]
    fn connections_beyond_the_cap_are_refused_until_one_closes() {
        let open = OpenConnections::new(2, gauge());

        let first = open.admit().expect("room for the first");
        let _second = open.admit().expect("room for the second");
        let refused = open.admit();
        drop(first);
        let after_a_close = open.admit();

        assert!(refused.is_none(), "a third connection was admitted");
        assert!(
            after_a_close.is_some(),
            "the freed place was not given back"
        );
        assert_eq!(open.gauge.get(), 2);
    }

    #[tokio::test]
    async fn all_closed_waits_for_the_last_connection() {
        let open = OpenConnections::new(4, gauge());
        let connection = open.admit().expect("room");

        let waiting = tokio::time::timeout(std::time::Duration::ZERO, open.all_closed()).await;
        drop(connection);
        open.all_closed().await;

        assert!(
            waiting.is_err(),
            "all_closed resolved with a connection open"
        );
        assert_eq!(open.gauge.get(), 0);
    }
}
