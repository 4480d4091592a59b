//! Cortex (next).
