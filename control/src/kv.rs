//! The replicated state machine: a KV store with at-most-once client sessions.

/// A client command, carried as opaque bytes in log entries and client requests.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Command {
    Get {
        key: String,
    },
    Put {
        key: String,
        value: String,
    },
    Delete {
        key: String,
    },
    /// Set `key` to `new` if its current value is `expected` (`None`: absent).
    Cas {
        key: String,
        expected: Option<String>,
        new: String,
    },
}

/// The answer to a client request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reply {
    /// Result of a get: the value, or `None` if the key is absent.
    Value(Option<String>),
    /// A put or delete took effect.
    Done,
    /// Whether a compare-and-swap took effect.
    Swapped(bool),
    /// Not executed here: the receiver is not the leader; try `leader`.
    NotLeader { leader: Option<u8> },
}
