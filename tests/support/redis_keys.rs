//! Reading a test's redis-server directly: counters, expiries and the keys it holds.

/// A counter key's value (0 when missing).
pub async fn counter(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> u64 {
    redis::cmd("GET")
        .arg(key)
        .query_async::<Option<u64>>(conn)
        .await
        .expect("GET answers")
        .unwrap_or(0)
}

/// Milliseconds to live of a key (-2 missing, -1 no expiry).
pub async fn pttl(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("PTTL")
        .arg(key)
        .query_async::<i64>(conn)
        .await
        .expect("PTTL answers")
}

/// Every key in the server.
pub async fn all_keys(conn: &mut redis::aio::MultiplexedConnection) -> Vec<String> {
    redis::cmd("KEYS")
        .arg("*")
        .query_async::<Vec<String>>(conn)
        .await
        .expect("KEYS answers")
}
