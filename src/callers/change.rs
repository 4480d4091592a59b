//! What the admin API asks of the registry, as domain types checked at the HTTP edge, and
//! why the registry can refuse.

use crate::caller::{CallerId, CallerKind, CallerPriority, Role};

/// A caller to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCaller {
    pub id: CallerId,
    pub role: Role,
    pub kind: CallerKind,
    pub priority: CallerPriority,
    pub daily_cap: Option<u64>,
    pub description: Option<String>,
}

/// Fields to change; `None` leaves a field as it is. For the cap and the description,
/// `Some(None)` removes the value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerChange {
    pub role: Option<Role>,
    pub kind: Option<CallerKind>,
    pub priority: Option<CallerPriority>,
    pub daily_cap: Option<Option<u64>>,
    pub description: Option<Option<String>>,
}

/// Why the registry refused a change.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// No caller has this id.
    #[error("no caller has the id \"{0}\"")]
    NotFound(CallerId),
    /// A caller with this id exists (in the configuration or at runtime).
    #[error("id: a caller with the id \"{0}\" already exists")]
    Duplicate(CallerId),
    /// The id is kept for the implicit caller.
    #[error("id: \"{0}\" is reserved for requests without a key")]
    Reserved(CallerId),
    /// The caller is defined in the configuration file, which stays its source of truth.
    #[error(
        "caller \"{0}\" is defined in the configuration file, which is the source of truth for \
         its fields: change it there"
    )]
    FromConfig(CallerId),
    /// The change would leave no admin to manage callers.
    #[error("caller \"{0}\" is the last admin: removing or demoting it would lock the admin API")]
    LastAdmin(CallerId),
    /// The registry is full.
    #[error("at most {0} callers can exist")]
    TooMany(usize),
    /// The change could not be made durable (store or Redis failing); nothing changed.
    #[error("the callers could not be saved: {0}")]
    Unavailable(String),
}
