//! Why a frame, datagram or record was rejected. Every variant is a counter.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("too short: {len} bytes, need at least {need}")]
    Short { len: usize, need: usize },
}
