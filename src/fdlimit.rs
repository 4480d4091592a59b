//! The process's file-descriptor budget: the soft limit is raised to the hard one at start, and
//! the connection cap is kept below it, so client sockets can never starve the store, Redis and
//! VirusTotal calls of descriptors (or make `accept` fail with EMFILE).

/// Descriptors kept for everything that is not a client connection, besides upstream sockets:
/// stdio, the runtime's epoll and wakers, the listener, the signal pipe, the store file, Redis
/// connections, the demo's simulator listener, `/proc` reads of the process collector, and
/// sockets closing after a refusal. Measured in `demo`: 13 at rest, 31 with eight lookups under
/// way (the in-process simulator holds the other end of each call); 64 leaves room to spare.
const RESERVED_FDS: u64 = 64;

/// The file-descriptor limit in force after start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    /// The soft limit (what `open`/`accept` are held to).
    pub soft: u64,
    /// The hard limit (the most the soft limit may be raised to).
    pub hard: u64,
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (container runtimes often leave it at
/// 1,024 under a far higher hard limit) and logs both. `None` where the limit cannot be read.
pub fn raise_to_hard_limit() -> Option<FdLimit> {
    let (before, hard) = match rlimit::Resource::NOFILE.get() {
        Ok(limits) => limits,
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the file-descriptor limit");
            return None;
        }
    };
    let soft = match rlimit::increase_nofile_limit(hard) {
        Ok(soft) => soft,
        Err(err) => {
            tracing::warn!(error = %err, soft = before, hard, "cannot raise the file-descriptor limit");
            before
        }
    };
    tracing::info!(soft_before = before, soft, hard, "file-descriptor limit");
    Some(FdLimit { soft, hard })
}

/// The connection cap to enforce: `requested`, lowered (with a warning) when it would leave
/// fewer than the reserved descriptors plus one per concurrent upstream call under `limit`.
pub fn connection_cap(requested: usize, limit: Option<FdLimit>, max_upstream: usize) -> usize {
    let Some(limit) = limit else {
        return requested;
    };
    let reserved = RESERVED_FDS.saturating_add(u64::try_from(max_upstream).unwrap_or(u64::MAX));
    // With a limit too small for the reserve, half of it still serves clients.
    let room = limit
        .soft
        .saturating_sub(reserved)
        .max(limit.soft / 2)
        .max(1);
    let room = usize::try_from(room).unwrap_or(usize::MAX);
    if requested <= room {
        return requested;
    }
    tracing::warn!(
        max_connections = requested,
        fd_limit = limit.soft,
        using = room,
        "VTENRICH_MAX_CONNECTIONS leaves too few file descriptors for the store, Redis and \
         VirusTotal calls; lowering the cap (raise the hard RLIMIT_NOFILE to keep it)"
    );
    room
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(soft: u64) -> Option<FdLimit> {
        Some(FdLimit { soft, hard: soft })
    }

    #[test]
    fn a_cap_well_below_the_limit_is_kept() {
        assert_eq!(connection_cap(4096, limit(1_048_576), 8), 4096);
        assert_eq!(connection_cap(150, limit(256), 8), 150);
    }

    #[test]
    fn a_cap_above_the_limit_leaves_the_reserve_and_one_fd_per_upstream_call() {
        assert_eq!(connection_cap(4096, limit(1024), 8), 1024 - 64 - 8);
    }

    #[test]
    fn a_limit_smaller_than_the_reserve_still_serves_half_of_it_to_clients() {
        assert_eq!(connection_cap(4096, limit(64), 8), 32);
        assert_eq!(connection_cap(4096, limit(1), 8), 1);
    }

    #[test]
    fn an_unknown_limit_keeps_the_cap() {
        assert_eq!(connection_cap(4096, None, 8), 4096);
    }
}
