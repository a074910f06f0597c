//! The behavioural model of the fast path.
