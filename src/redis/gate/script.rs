//! The quota script (`gate.lua`): typed calls in, typed replies out.
//!
//! Run through redis-rs [`redis::Script`], which sends EVALSHA and loads the script once when
//! a (restarted) Redis answers NOSCRIPT.

use std::time::Duration;

use chrono::NaiveDate;
use redis::aio::ConnectionLike;

use crate::quota::{DenyReason, Limits};
use crate::redis::keys::{Keys, day_text, month_text};

/// What one script call does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Checks every window and spends one call when all pass; `member` names the grant in
    /// the minute log and must be unique. `reserve`: the last calls of the day this ask may
    /// not spend (0 for interactive callers).
    Acquire { member: String, reserve: u64 },
    /// Reads the state without spending.
    Peek,
    /// Sets the shared block (never shortening a longer one).
    Block(BlockFor),
    /// Raises the day and month counters to at least these values.
    Adopt { day_used: u64, month_used: u64 },
    /// Adds spends made while Redis was unreachable, once per `batch` id; `grants` are their
    /// times (Unix ms) for the minute log.
    Add {
        batch: String,
        count: u64,
        grants: Vec<i64>,
    },
    /// Gives back one spend whose call never reached VirusTotal, once per `id`: takes
    /// `member` out of the minute log (`None` for a spend added by `Add`) and one call off
    /// the day and month counters of the call's date.
    Refund { id: String, member: Option<String> },
}

/// How long a block lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockFor {
    /// Until the next 00:00 UTC by the script's clock.
    Midnight,
    /// For this long from the script's now.
    Duration(Duration),
    /// Until this Unix ms (a block learned while Redis was unreachable).
    Until(i64),
}

/// One call: the operation, the UTC date the keys name, and the time to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// What to do.
    pub op: Op,
    /// The date whose day and month keys are used. For every op but `Add` and `Refund` the script
    /// refuses a date other than its own ([`Status::WrongDate`]).
    pub date: NaiveDate,
    /// Unix ms to use instead of Redis `TIME`. Tests only: production passes `None` so the
    /// replicas' clocks never matter.
    pub now_ms: Option<i64>,
}

/// How the script answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A call was spent.
    Granted,
    /// No slot now; see `reason` and `retry_ms`.
    Denied,
    /// A non-acquiring op completed (for `Add` and `Refund`: `applied` says whether it was new).
    Done,
    /// The keys name another date than the script's now (`now_ms`); ask again with its date.
    WrongDate,
}

/// The script's answer, with the state it saw (after its own writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// What happened.
    pub status: Status,
    /// Why a slot was denied.
    pub reason: Option<DenyReason>,
    /// How long until a slot may be free (denials only).
    pub retry_ms: u64,
    /// The script's now, Unix ms.
    pub now_ms: i64,
    /// Grants in the minute window ending at `now_ms`.
    pub minute_used: u64,
    /// When the oldest of them ages out, Unix ms (`now_ms` when there is none).
    pub minute_frees_ms: i64,
    /// Calls counted on the UTC day the call named.
    pub day_used: u64,
    /// Calls counted in the UTC month the call named.
    pub month_used: u64,
    /// Unix ms until which VirusTotal blocks us.
    pub blocked_until_ms: Option<i64>,
    /// `Add` and `Refund` only: the batch or refund was new and has been applied.
    pub applied: bool,
}

/// The quota script bound to one account's keys and limits.
pub struct QuotaScript {
    script: redis::Script,
    keys: Keys,
    limits: Limits,
    arrival_margin_ms: u64,
}

type RawReply = (i64, String, i64, i64, i64, i64, i64, i64, i64);

impl QuotaScript {
    /// The script for the account named by `keys`, enforcing `limits`, each grant keeping
    /// its minute slot for `arrival_margin` past 60 s (as the local gate does).
    pub fn new(keys: Keys, limits: Limits, arrival_margin: Duration) -> Self {
        Self {
            script: redis::Script::new(include_str!("gate.lua")),
            keys,
            limits,
            arrival_margin_ms: u64::try_from(arrival_margin.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// How long past 60 s a grant keeps its minute slot.
    pub fn arrival_margin(&self) -> Duration {
        Duration::from_millis(self.arrival_margin_ms)
    }

    /// The account's keys.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The limits it enforces.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Runs one call atomically.
    pub async fn call<C: ConnectionLike + Send>(
        &self,
        conn: &mut C,
        call: &Call,
    ) -> redis::RedisResult<Reply> {
        let mode = match &call.op {
            Op::Acquire { .. } => "acquire",
            Op::Peek => "peek",
            Op::Block(_) => "block",
            Op::Adopt { .. } => "adopt",
            Op::Add { .. } => "add",
            Op::Refund { .. } => "refund",
        };
        // Every key is declared and shares the account's hash tag, so on a Cluster the whole
        // script runs on the one master of that slot, atomically.
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(self.keys.minute())
            .key(self.keys.day(call.date))
            .key(self.keys.month(call.date))
            .key(self.keys.blocked())
            .arg(mode)
            .arg(call.now_ms.map_or_else(String::new, |ms| ms.to_string()))
            .arg(day_text(call.date))
            .arg(month_text(call.date))
            .arg(self.limits.per_minute)
            .arg(self.limits.per_day)
            .arg(self.limits.per_month)
            .arg(self.arrival_margin_ms);
        match &call.op {
            Op::Acquire { member, reserve } => {
                invocation.arg(member).arg(*reserve);
            }
            Op::Peek => {}
            Op::Block(BlockFor::Midnight) => {
                invocation.arg("midnight");
            }
            Op::Block(BlockFor::Duration(d)) => {
                let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
                invocation.arg("for").arg(ms);
            }
            Op::Block(BlockFor::Until(ms)) => {
                invocation.arg("until").arg(*ms);
            }
            Op::Adopt {
                day_used,
                month_used,
            } => {
                invocation.arg(*day_used).arg(*month_used);
            }
            Op::Add {
                batch,
                count,
                grants,
            } => {
                invocation.key(self.keys.flush(batch)).arg(*count);
                for at in grants {
                    invocation.arg(*at);
                }
            }
            Op::Refund { id, member } => {
                invocation
                    .key(self.keys.refund(id))
                    .arg(member.as_deref().unwrap_or(""));
            }
        }
        let raw: RawReply = invocation.invoke_async(conn).await?;
        Ok(parse(raw))
    }
}

fn parse(raw: RawReply) -> Reply {
    let (status, reason, retry, now, minute_used, minute_frees, day_used, month_used, blocked) =
        raw;
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Reply {
        status: match status {
            1 => Status::Granted,
            0 => Status::Denied,
            -1 => Status::WrongDate,
            _ => Status::Done,
        },
        reason: match reason.as_str() {
            "minute" => Some(DenyReason::Minute),
            "blocked" => Some(DenyReason::Blocked),
            "day" => Some(DenyReason::Day),
            "month" => Some(DenyReason::Month),
            "reserve" => Some(DenyReason::Reserve),
            _ => None,
        },
        retry_ms: count(retry),
        now_ms: now,
        minute_used: count(minute_used),
        minute_frees_ms: minute_frees,
        day_used: count(day_used),
        month_used: count(month_used),
        blocked_until_ms: (blocked > 0).then_some(blocked),
        applied: status == 2 && retry == 1,
    }
}
