//! Counts as a report reads them: one row per (day, caller, route, endpoint) with every
//! counter, in that order.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::{Count, Counter, UsageKey};

/// Every counter of one row (or a total).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts([u64; Counter::ALL.len()]);

impl Counts {
    /// The value of `counter`.
    pub fn get(&self, counter: Counter) -> u64 {
        self.0[Self::index(counter)]
    }

    /// Adds `n` to `counter`.
    pub fn add(&mut self, counter: Counter, n: u64) {
        let slot = &mut self.0[Self::index(counter)];
        *slot = slot.saturating_add(n);
    }

    /// Adds every counter of `other`.
    pub fn add_all(&mut self, other: &Counts) {
        for counter in Counter::ALL {
            self.add(counter, other.get(counter));
        }
    }

    fn index(counter: Counter) -> usize {
        Counter::ALL
            .iter()
            .position(|c| *c == counter)
            .expect("every counter is in ALL")
    }
}

/// One row of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub day: NaiveDate,
    pub key: UsageKey,
    pub counts: Counts,
}

/// Groups stored counts into rows, ordered by day, caller, route and endpoint.
pub(super) fn rows(counts: impl IntoIterator<Item = Count>) -> Vec<Row> {
    let mut grouped: BTreeMap<(NaiveDate, UsageKey), Counts> = BTreeMap::new();
    for (day, key, counter, n) in counts {
        grouped.entry((day, key)).or_default().add(counter, n);
    }
    grouped
        .into_iter()
        .filter(|(_, counts)| *counts != Counts::default())
        .map(|((day, key), counts)| Row { day, key, counts })
        .collect()
}
