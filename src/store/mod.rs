//! Persistence of answers and quota counts: the stored form, and the embedded durable store.

pub mod codec;
pub mod durable;
