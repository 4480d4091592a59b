//! Tests of the deferred queue: de-duplication, the bound, and callers' shares.

use super::*;

fn ip(n: u32) -> Observable {
    Observable::Ip(std::net::Ipv4Addr::from(0x5100_0000 + n).into())
}

#[tokio::test]
async fn the_queue_deduplicates_bounds_and_counts_overflow() {
    let metrics = Metrics::new();
    let queue = DeferredQueue::new(2, metrics.clone());
    let me = Caller::anonymous();
    let (a, b, c) = (ip(1), ip(2), ip(3));
    assert_eq!(queue.push(a.clone(), &me), Pushed::Queued);
    assert_eq!(queue.push(a.clone(), &me), Pushed::AlreadyQueued);
    assert_eq!(queue.push(b.clone(), &me), Pushed::Queued);
    assert_eq!(queue.push(c.clone(), &me), Pushed::Dropped);
    assert_eq!(metrics.deferred_dropped.get(), 1);
    assert_eq!(queue.depth(), 2);
    assert_eq!(queue.pop().await, (a.clone(), me.clone()));
    assert_eq!(
        queue.push(a.clone(), &me),
        Pushed::AlreadyQueued,
        "still being filled"
    );
    assert_eq!(queue.depth(), 2, "the address being filled still counts");
    queue.finish(&a);
    assert_eq!(queue.pop().await, (b.clone(), me.clone()));
    queue.finish(&b);
    assert_eq!(metrics.deferred_depth.get(), 0);
    assert_eq!(queue.push(c.clone(), &me), Pushed::Queued);
}

#[tokio::test]
async fn a_caller_filling_the_queue_loses_its_oldest_entries_to_another_caller() {
    let metrics = Metrics::new();
    let queue = DeferredQueue::new(10, metrics.clone());
    let (flood, analyst) = (Caller::new("flood"), Caller::new("analyst"));
    for n in 0..100 {
        queue.push(ip(n), &flood);
    }

    let analyst_pushes: Vec<Pushed> = (1000..1003).map(|n| queue.push(ip(n), &analyst)).collect();

    assert_eq!(analyst_pushes, vec![Pushed::QueuedInstead; 3]);
    assert_eq!(queue.depth(), 10);
    // 90 of the flood's own entries found no room, 3 more made room for the analyst's.
    assert_eq!(metrics.deferred_dropped.get(), 90 + 3);
    let mut taken = Vec::new();
    for _ in 0..10 {
        let (ip, caller) = queue.pop().await;
        queue.finish(&ip);
        taken.push((ip, caller));
    }
    let flood_left: Vec<Observable> = taken
        .iter()
        .filter(|(_, c)| *c == flood)
        .map(|(ip, _)| ip.clone())
        .collect();
    assert_eq!(
        flood_left,
        (3..10).map(ip).collect::<Vec<_>>(),
        "its oldest went first"
    );
    assert_eq!(taken.iter().filter(|(_, c)| *c == analyst).count(), 3);
}

#[test]
fn a_caller_within_its_share_is_never_pushed_out() {
    let metrics = Metrics::new();
    let queue = DeferredQueue::new(4, metrics.clone());
    let (a, b, c) = (Caller::new("a"), Caller::new("b"), Caller::new("c"));
    // Two callers, two entries each: both exactly at their share of 4 / 2.
    for n in 0..2 {
        queue.push(ip(n), &a);
        queue.push(ip(10 + n), &b);
    }

    // A third caller's share would be 4 / 3 = 1: both hold more, so one entry makes room,
    // a's (its oldest entry has waited longest).
    let third = queue.push(ip(20), &c);
    assert_eq!(third, Pushed::QueuedInstead);
    assert!(!queue.contains(&ip(0)), "a's oldest made room");
    // The one slot above everyone's share goes back and forth between a and b, each time
    // taken from the one holding two; c, within its share, is never the one to go.
    let a_again = queue.push(ip(3), &a);
    let b_again = queue.push(ip(13), &b);

    assert_eq!(
        (a_again, b_again),
        (Pushed::QueuedInstead, Pushed::QueuedInstead)
    );
    assert!(!queue.contains(&ip(10)), "b's oldest made room for a");
    assert!(!queue.contains(&ip(1)), "a's oldest made room for b");
    assert_eq!(queue.depth(), 4);
    assert!(queue.contains(&ip(20)), "the newcomer kept its one entry");
}

#[tokio::test]
async fn an_entry_being_filled_is_never_dropped_to_make_room() {
    let metrics = Metrics::new();
    let queue = DeferredQueue::new(2, metrics.clone());
    let (flood, analyst) = (Caller::new("flood"), Caller::new("analyst"));
    queue.push(ip(1), &flood);
    queue.push(ip(2), &flood);
    let (filling, _) = queue.pop().await;
    let (second, _) = queue.pop().await;

    let pushed = queue.push(ip(3), &analyst);

    assert_eq!((filling, second), (ip(1), ip(2)));
    assert_eq!(
        pushed,
        Pushed::Dropped,
        "nothing of the flood is still waiting"
    );
    assert!(queue.contains(&ip(1)) && queue.contains(&ip(2)));
}
