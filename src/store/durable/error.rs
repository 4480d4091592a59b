//! How a durable store operation failed.

use std::path::PathBuf;

/// Why a store operation failed. Callers only report it: the service keeps serving from memory.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error (I/O, full or read-only disk, corruption).
    #[error("durable store: {0}")]
    Database(redb::Error),
    /// A file-system step around the database failed.
    #[error("durable store: could not {action} {}: {cause}", path.display())]
    File {
        action: &'static str,
        path: PathBuf,
        cause: std::io::Error,
    },
    /// The database panicked (it may, on a file altered behind its back).
    #[error("durable store: the database panicked: {0}")]
    Panicked(String),
}

/// `?` on any redb operation gives a [`StoreError`].
macro_rules! from_redb {
    ($($t:ty),+) => {$(
        impl From<$t> for StoreError {
            fn from(err: $t) -> Self {
                StoreError::Database(err.into())
            }
        }
    )+};
}

from_redb!(
    redb::Error,
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError,
    redb::DatabaseError
);
