//! The checkers run on every simulation. Each returns a [`Check`]: passed, or
//! the first violation with everything needed to understand it (slot,
//! replicas, values, virtual time).

pub mod agreement;
pub mod chosen;
pub mod liveness;

use std::fmt;

use riptide_control::kv::LogValue;
use serde::ser::{Serialize, SerializeStruct, Serializer};

/// The outcome of one checker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check<V> {
    Passed,
    /// The first violation found.
    Failed(V),
}

impl<V> Check<V> {
    pub fn passed(&self) -> bool {
        matches!(self, Check::Passed)
    }

    pub fn violation(&self) -> Option<&V> {
        match self {
            Check::Passed => None,
            Check::Failed(v) => Some(v),
        }
    }
}

impl<V: fmt::Display> fmt::Display for Check<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::Passed => write!(f, "ok"),
            Check::Failed(v) => write!(f, "VIOLATED: {v}"),
        }
    }
}

impl<V: Serialize + fmt::Display> Serialize for Check<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Check", 3)?;
        s.serialize_field("ok", &self.passed())?;
        if let Check::Failed(v) = self {
            s.serialize_field("description", &v.to_string())?;
            s.serialize_field("violation", v)?;
        }
        s.end()
    }
}

/// A log value for humans: decoded if it is a KV log entry, otherwise its
/// bytes, printable ones as text, long values cut.
pub fn show_value(value: &[u8]) -> String {
    const MAX: usize = 48;
    match LogValue::decode(value) {
        Ok(LogValue::Noop) => "noop".to_string(),
        Ok(LogValue::Request {
            client,
            request,
            command,
        }) => format!("client {client} request {request}: {command:?}"),
        Ok(batch @ LogValue::Batch(_)) => {
            let writes: Vec<String> = batch
                .writes()
                .into_iter()
                .map(|(client, request, command)| {
                    format!("client {client} request {request}: {command:?}")
                })
                .collect();
            format!("batch [{}]", writes.join("; "))
        }
        Err(_) => {
            let text: String = value
                .iter()
                .take(MAX)
                .flat_map(|&b| std::ascii::escape_default(b))
                .map(char::from)
                .collect();
            let cut = if value.len() > MAX { "…" } else { "" };
            format!("bytes \"{text}{cut}\" ({} bytes)", value.len())
        }
    }
}
