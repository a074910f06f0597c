//! The replicated state machine: a KV store with at-most-once client sessions.
//!
//! Everything here is deterministic and byte-exact: [`Command`], [`Reply`] and
//! [`LogValue`] have one strict binary encoding each (decoding rejects unknown
//! tags, bad UTF-8, truncation and trailing bytes), because log values arrive
//! from the network and every replica must apply the same bytes the same way.
//!
//! Encoding: a one-byte tag, then the fields in order. Integers are big-endian;
//! a string is a `u32` byte length and UTF-8 bytes; an option is a `0` byte
//! (none) or a `1` byte and the value.

use std::collections::BTreeMap;

use thiserror::Error;

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
    /// Refused, not executed anywhere: the command's log value would be
    /// longer than `max` bytes ([`MAX_LOG_VALUE_LEN`]). Sending it again
    /// gets the same answer.
    TooLarge { max: u32 },
    /// Not answered yet: the replica's proof of the client's address
    /// (`riptide_node::cookie`), sent instead of an answer larger than the
    /// request. The client sends the same request again with it.
    Cookie { cookie: u64 },
    /// Not executed: the leader holds as many requests as it may
    /// (`ReplicaConfig::max_pending`). Send the same request again after a
    /// pause that grows while the answer stays the same.
    Busy,
}

/// Longest log value a command may have ([`Command::log_len`]): a value
/// must fit one entry of a catch-up or promise datagram with room to
/// spare. Every replica refuses a longer command at once with
/// [`Reply::TooLarge`]; clients check before they send.
pub const MAX_LOG_VALUE_LEN: usize = 16 * 1024;

/// A command too long for the log: its length and the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error(
    "the command takes {len} bytes in the log, over the limit of {max} bytes \
     (its key and values, plus at most 31 bytes of framing)"
)]
pub struct TooLarge {
    pub len: usize,
    pub max: usize,
}

/// What a log entry carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LogValue {
    /// Fills a slot without effect (holes found in phase 1, read barriers).
    Noop,
    /// A client's write, with its session coordinates for at-most-once execution.
    Request {
        client: u64,
        request: u64,
        command: Command,
    },
    /// Client writes that share one slot, applied in order: what a leader
    /// whose window is full proposes once a slot opens.
    Batch(Vec<Write>),
}

/// One client write of a [`LogValue::Batch`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Write {
    pub client: u64,
    pub request: u64,
    pub command: Command,
}

/// Why bytes are not a valid [`Command`], [`Reply`] or [`LogValue`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KvDecodeError {
    #[error("truncated: needed {need} more bytes, {have} left")]
    Truncated { need: usize, have: usize },
    #[error("unknown {what} tag {tag:#04x}")]
    UnknownTag { what: &'static str, tag: u8 },
    #[error("string is not valid UTF-8")]
    BadUtf8,
    #[error("{count} trailing bytes after the value")]
    TrailingBytes { count: usize },
    #[error("snapshot {what} out of order: not strictly increasing")]
    Unordered { what: &'static str },
}

/// Longest snapshot a replica accepts from a peer: a download is refused
/// (never buffered) past it.
pub const MAX_SNAPSHOT_LEN: u64 = 1 << 30;

mod tag {
    pub const GET: u8 = 1;
    pub const PUT: u8 = 2;
    pub const DELETE: u8 = 3;
    pub const CAS: u8 = 4;

    pub const VALUE: u8 = 1;
    pub const DONE: u8 = 2;
    pub const SWAPPED: u8 = 3;
    pub const NOT_LEADER: u8 = 4;
    pub const TOO_LARGE: u8 = 5;
    pub const COOKIE: u8 = 6;
    pub const BUSY: u8 = 7;

    pub const NOOP: u8 = 0;
    pub const REQUEST: u8 = 1;
    pub const BATCH: u8 = 2;

    pub const NONE: u8 = 0;
    pub const SOME: u8 = 1;
}

impl Command {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Command, KvDecodeError> {
        let mut r = Reader::new(bytes);
        let command = Command::read(&mut r)?;
        r.finish()?;
        Ok(command)
    }

    /// The length of this command's log value ([`LogValue::Request`]), read
    /// or write alike: the tag, client id, request number and the command.
    pub fn log_len(&self) -> usize {
        1 + 8 + 8 + self.encoded_len()
    }

    /// Whether the command fits the log: [`MAX_LOG_VALUE_LEN`].
    pub fn check_size(&self) -> Result<(), TooLarge> {
        let len = self.log_len();
        if len > MAX_LOG_VALUE_LEN {
            return Err(TooLarge {
                len,
                max: MAX_LOG_VALUE_LEN,
            });
        }
        Ok(())
    }

    /// [`Command::encode`]'s length, without encoding.
    fn encoded_len(&self) -> usize {
        let string = |s: &str| 4 + s.len();
        let option = |s: Option<&str>| 1 + s.map_or(0, string);
        1 + match self {
            Command::Get { key } | Command::Delete { key } => string(key),
            Command::Put { key, value } => string(key) + string(value),
            Command::Cas { key, expected, new } => {
                string(key) + option(expected.as_deref()) + string(new)
            }
        }
    }

    /// The key the command reads or writes.
    pub fn key(&self) -> &str {
        match self {
            Command::Get { key }
            | Command::Put { key, .. }
            | Command::Delete { key }
            | Command::Cas { key, .. } => key,
        }
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Command::Get { key } => {
                out.push(tag::GET);
                put_str(out, key);
            }
            Command::Put { key, value } => {
                out.push(tag::PUT);
                put_str(out, key);
                put_str(out, value);
            }
            Command::Delete { key } => {
                out.push(tag::DELETE);
                put_str(out, key);
            }
            Command::Cas { key, expected, new } => {
                out.push(tag::CAS);
                put_str(out, key);
                put_opt_str(out, expected.as_deref());
                put_str(out, new);
            }
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Command, KvDecodeError> {
        Ok(match r.u8()? {
            tag::GET => Command::Get { key: r.string()? },
            tag::PUT => Command::Put {
                key: r.string()?,
                value: r.string()?,
            },
            tag::DELETE => Command::Delete { key: r.string()? },
            tag::CAS => Command::Cas {
                key: r.string()?,
                expected: r.opt_string()?,
                new: r.string()?,
            },
            other => {
                return Err(KvDecodeError::UnknownTag {
                    what: "command",
                    tag: other,
                });
            }
        })
    }
}

impl Reply {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Reply::Value(value) => {
                out.push(tag::VALUE);
                put_opt_str(&mut out, value.as_deref());
            }
            Reply::Done => out.push(tag::DONE),
            Reply::Swapped(swapped) => {
                out.push(tag::SWAPPED);
                out.push(u8::from(*swapped));
            }
            Reply::NotLeader { leader } => {
                out.push(tag::NOT_LEADER);
                match leader {
                    None => out.push(tag::NONE),
                    Some(id) => out.extend([tag::SOME, *id]),
                }
            }
            Reply::Cookie { cookie } => {
                out.push(tag::COOKIE);
                out.extend(cookie.to_be_bytes());
            }
            Reply::TooLarge { max } => {
                out.push(tag::TOO_LARGE);
                out.extend(max.to_be_bytes());
            }
            Reply::Busy => out.push(tag::BUSY),
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Reply, KvDecodeError> {
        let mut r = Reader::new(bytes);
        let reply = match r.u8()? {
            tag::VALUE => Reply::Value(r.opt_string()?),
            tag::DONE => Reply::Done,
            tag::SWAPPED => Reply::Swapped(match r.u8()? {
                0 => false,
                1 => true,
                other => {
                    return Err(KvDecodeError::UnknownTag {
                        what: "bool",
                        tag: other,
                    });
                }
            }),
            tag::NOT_LEADER => Reply::NotLeader {
                leader: match r.option_tag()? {
                    false => None,
                    true => Some(r.u8()?),
                },
            },
            tag::TOO_LARGE => Reply::TooLarge { max: r.u32()? },
            tag::COOKIE => Reply::Cookie { cookie: r.u64()? },
            tag::BUSY => Reply::Busy,
            other => {
                return Err(KvDecodeError::UnknownTag {
                    what: "reply",
                    tag: other,
                });
            }
        };
        r.finish()?;
        Ok(reply)
    }
}

impl Write {
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend(self.client.to_be_bytes());
        out.extend(self.request.to_be_bytes());
        self.command.encode_into(out);
    }

    /// Bytes this write adds to a batch: its session coordinates and its
    /// command ([`Command::log_len`] without the log value's tag).
    pub fn encoded_len(&self) -> usize {
        self.command.log_len() - 1
    }
}

impl LogValue {
    /// Bytes of an empty [`LogValue::Batch`]: its tag and count.
    pub const BATCH_HEADER_LEN: usize = 5;

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            LogValue::Noop => out.push(tag::NOOP),
            LogValue::Request {
                client,
                request,
                command,
            } => {
                out.push(tag::REQUEST);
                out.extend(client.to_be_bytes());
                out.extend(request.to_be_bytes());
                command.encode_into(&mut out);
            }
            LogValue::Batch(writes) => {
                out.push(tag::BATCH);
                let count = u32::try_from(writes.len()).expect("a batch fits one log value");
                out.extend(count.to_be_bytes());
                for write in writes {
                    write.encode_into(&mut out);
                }
            }
        }
        out
    }

    /// The client writes this value carries, in the order they apply.
    pub fn writes(&self) -> Vec<(u64, u64, &Command)> {
        match self {
            LogValue::Noop => Vec::new(),
            LogValue::Request {
                client,
                request,
                command,
            } => vec![(*client, *request, command)],
            LogValue::Batch(writes) => writes
                .iter()
                .map(|w| (w.client, w.request, &w.command))
                .collect(),
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<LogValue, KvDecodeError> {
        let mut r = Reader::new(bytes);
        let value = match r.u8()? {
            tag::NOOP => LogValue::Noop,
            tag::REQUEST => LogValue::Request {
                client: r.u64()?,
                request: r.u64()?,
                command: Command::read(&mut r)?,
            },
            tag::BATCH => {
                // The count is untrusted: no allocation by it, and every
                // write it promises must be there.
                let count = r.u32()?;
                let mut writes = Vec::new();
                for _ in 0..count {
                    writes.push(Write {
                        client: r.u64()?,
                        request: r.u64()?,
                        command: Command::read(&mut r)?,
                    });
                }
                LogValue::Batch(writes)
            }
            other => {
                return Err(KvDecodeError::UnknownTag {
                    what: "log value",
                    tag: other,
                });
            }
        };
        r.finish()?;
        Ok(value)
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let len = u32::try_from(s.len()).expect("strings in commands are far below 4 GiB");
    out.extend(len.to_be_bytes());
    out.extend(s.as_bytes());
}

fn put_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(tag::NONE),
        Some(s) => {
            out.push(tag::SOME);
            put_str(out, s);
        }
    }
}

/// A cursor over untrusted bytes: every read checks the length first.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], KvDecodeError> {
        if self.rest.len() < n {
            return Err(KvDecodeError::Truncated {
                need: n,
                have: self.rest.len(),
            });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, KvDecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, KvDecodeError> {
        let bytes = self.take(4)?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn u64(&mut self) -> Result<u64, KvDecodeError> {
        let mut buf = [0u8; 8];
        buf.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(buf))
    }

    fn string(&mut self) -> Result<String, KvDecodeError> {
        // The length is checked against what is left before anything is
        // allocated, so a forged length cannot make us allocate.
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| KvDecodeError::BadUtf8)
    }

    fn option_tag(&mut self) -> Result<bool, KvDecodeError> {
        match self.u8()? {
            tag::NONE => Ok(false),
            tag::SOME => Ok(true),
            other => Err(KvDecodeError::UnknownTag {
                what: "option",
                tag: other,
            }),
        }
    }

    fn opt_string(&mut self) -> Result<Option<String>, KvDecodeError> {
        Ok(match self.option_tag()? {
            false => None,
            true => Some(self.string()?),
        })
    }

    fn finish(self) -> Result<(), KvDecodeError> {
        match self.rest.len() {
            0 => Ok(()),
            count => Err(KvDecodeError::TrailingBytes { count }),
        }
    }
}

/// The last request a client had executed, and the reply it got.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Session {
    request: u64,
    reply: Reply,
}

/// The replicated state machine: a string map plus the session table that makes
/// client writes execute at most once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KvStore {
    data: BTreeMap<String, String>,
    sessions: BTreeMap<u64, Session>,
}

impl KvStore {
    pub fn new() -> KvStore {
        KvStore::default()
    }

    /// Apply one chosen log value. Returns the replies owed to clients, in
    /// order: a new request is executed and its reply remembered; a repeat of
    /// the client's last executed request is answered from the session table
    /// without executing it again; an older request (a stale duplicate) is
    /// ignored.
    pub fn apply(&mut self, value: &LogValue) -> Vec<(u64, u64, Reply)> {
        value
            .writes()
            .into_iter()
            .filter_map(|(client, request, command)| self.apply_write(client, request, command))
            .collect()
    }

    fn apply_write(
        &mut self,
        client: u64,
        request: u64,
        command: &Command,
    ) -> Option<(u64, u64, Reply)> {
        if let Some(session) = self.sessions.get(&client) {
            if request < session.request {
                return None;
            }
            if request == session.request {
                return Some((client, request, session.reply.clone()));
            }
        }
        let reply = self.execute(command);
        self.sessions.insert(
            client,
            Session {
                request,
                reply: reply.clone(),
            },
        );
        Some((client, request, reply))
    }

    /// The state as bytes, for a snapshot: the map and the session table
    /// (at-most-once must survive an install). Format: `u64` count, then
    /// (key, value) strings in key order; `u64` count, then (client `u64`,
    /// request `u64`, reply as a `u32` length and [`Reply::encode`]) in
    /// client order. Canonical: [`KvStore::from_snapshot`] rejects any
    /// other order.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = self.snapshot_map();
        out.extend((self.sessions.len() as u64).to_be_bytes());
        for (client, session) in &self.sessions {
            out.extend(client.to_be_bytes());
            out.extend(session.request.to_be_bytes());
            let reply = session.reply.encode();
            out.extend((reply.len() as u32).to_be_bytes());
            out.extend(reply);
        }
        out
    }

    /// The planted bug `snapshot-drops-sessions`: the map alone, with an
    /// empty session table.
    pub fn snapshot_without_sessions(&self) -> Vec<u8> {
        let mut out = self.snapshot_map();
        out.extend(0u64.to_be_bytes());
        out
    }

    fn snapshot_map(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend((self.data.len() as u64).to_be_bytes());
        for (key, value) in &self.data {
            put_str(&mut out, key);
            put_str(&mut out, value);
        }
        out
    }

    /// The state a [`KvStore::snapshot`] holds (untrusted bytes from a
    /// peer: every count and length is checked against what is there).
    pub fn from_snapshot(bytes: &[u8]) -> Result<KvStore, KvDecodeError> {
        let mut r = Reader::new(bytes);
        let mut kv = KvStore::new();
        for _ in 0..r.u64()? {
            let (key, value) = (r.string()?, r.string()?);
            if kv
                .data
                .last_key_value()
                .is_some_and(|(last, _)| *last >= key)
            {
                return Err(KvDecodeError::Unordered { what: "keys" });
            }
            kv.data.insert(key, value);
        }
        for _ in 0..r.u64()? {
            let (client, request) = (r.u64()?, r.u64()?);
            let len = r.u32()? as usize;
            let reply = Reply::decode(r.take(len)?)?;
            if kv
                .sessions
                .last_key_value()
                .is_some_and(|(&last, _)| last >= client)
            {
                return Err(KvDecodeError::Unordered { what: "clients" });
            }
            kv.sessions.insert(client, Session { request, reply });
        }
        r.finish()?;
        Ok(kv)
    }

    /// The current value of `key` (for read-index gets, which bypass the log).
    pub fn read(&self, key: &str) -> Option<&str> {
        self.data.get(key).map(String::as_str)
    }

    /// The last request number executed for `client` and its reply.
    pub fn last_executed(&self, client: u64) -> Option<(u64, &Reply)> {
        self.sessions
            .get(&client)
            .map(|session| (session.request, &session.reply))
    }

    /// How many clients the session table holds (for checkers and status).
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// The whole map, in key order (for checkers and status dumps).
    pub fn data(&self) -> &BTreeMap<String, String> {
        &self.data
    }

    fn execute(&mut self, command: &Command) -> Reply {
        match command {
            Command::Get { key } => Reply::Value(self.data.get(key).cloned()),
            Command::Put { key, value } => {
                self.data.insert(key.clone(), value.clone());
                Reply::Done
            }
            Command::Delete { key } => {
                self.data.remove(key);
                Reply::Done
            }
            Command::Cas { key, expected, new } => {
                if self.data.get(key) == expected.as_ref() {
                    self.data.insert(key.clone(), new.clone());
                    Reply::Swapped(true)
                } else {
                    Reply::Swapped(false)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_string() -> impl Strategy<Value = String> {
        prop::string::string_regex("[a-zé☃0-9]{0,12}").unwrap()
    }

    fn arb_command() -> impl Strategy<Value = Command> {
        prop_oneof![
            arb_string().prop_map(|key| Command::Get { key }),
            (arb_string(), arb_string()).prop_map(|(key, value)| Command::Put { key, value }),
            arb_string().prop_map(|key| Command::Delete { key }),
            (arb_string(), prop::option::of(arb_string()), arb_string())
                .prop_map(|(key, expected, new)| Command::Cas { key, expected, new }),
        ]
    }

    fn arb_reply() -> impl Strategy<Value = Reply> {
        prop_oneof![
            prop::option::of(arb_string()).prop_map(Reply::Value),
            Just(Reply::Done),
            any::<bool>().prop_map(Reply::Swapped),
            prop::option::of(any::<u8>()).prop_map(|leader| Reply::NotLeader { leader }),
            any::<u32>().prop_map(|max| Reply::TooLarge { max }),
            any::<u64>().prop_map(|cookie| Reply::Cookie { cookie }),
            Just(Reply::Busy),
        ]
    }

    fn arb_log_value() -> impl Strategy<Value = LogValue> {
        prop_oneof![
            Just(LogValue::Noop),
            (any::<u64>(), any::<u64>(), arb_command()).prop_map(|(client, request, command)| {
                LogValue::Request {
                    client,
                    request,
                    command,
                }
            }),
            prop::collection::vec(
                (any::<u64>(), any::<u64>(), arb_command()).prop_map(
                    |(client, request, command)| Write {
                        client,
                        request,
                        command,
                    }
                ),
                0..5
            )
            .prop_map(LogValue::Batch),
        ]
    }

    proptest! {
        #[test]
        fn log_len_is_the_log_value_length(c in arb_command(), client: u64, request: u64) {
            let len = LogValue::Request { client, request, command: c.clone() }.encode().len();
            prop_assert_eq!(c.log_len(), len);
        }

        #[test]
        fn command_round_trips(c in arb_command()) {
            prop_assert_eq!(Command::decode(&c.encode()), Ok(c));
        }

        #[test]
        fn reply_round_trips(r in arb_reply()) {
            prop_assert_eq!(Reply::decode(&r.encode()), Ok(r));
        }

        #[test]
        fn log_value_round_trips(v in arb_log_value()) {
            prop_assert_eq!(LogValue::decode(&v.encode()), Ok(v));
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_decode_canonically(
            bytes in prop::collection::vec(any::<u8>(), 0..64)
        ) {
            // Whatever decodes must re-encode to exactly the same bytes: the
            // encoding is canonical, so replicas cannot disagree on meaning.
            if let Ok(c) = Command::decode(&bytes) { prop_assert_eq!(c.encode(), bytes.clone()); }
            if let Ok(r) = Reply::decode(&bytes) { prop_assert_eq!(r.encode(), bytes.clone()); }
            if let Ok(v) = LogValue::decode(&bytes) { prop_assert_eq!(v.encode(), bytes); }
        }

        #[test]
        fn every_strict_prefix_is_rejected(v in arb_log_value()) {
            let bytes = v.encode();
            for len in 0..bytes.len() {
                prop_assert!(LogValue::decode(&bytes[..len]).is_err());
            }
        }
    }

    #[test]
    fn malformed_inputs_give_typed_errors() {
        assert_eq!(
            Command::decode(&[]),
            Err(KvDecodeError::Truncated { need: 1, have: 0 })
        );
        assert_eq!(
            Command::decode(&[9]),
            Err(KvDecodeError::UnknownTag {
                what: "command",
                tag: 9
            })
        );
        // A length that claims more than is there must not allocate or panic.
        assert_eq!(
            Command::decode(&[tag::GET, 0xff, 0xff, 0xff, 0xff, b'a']),
            Err(KvDecodeError::Truncated {
                need: 0xffff_ffff,
                have: 1
            })
        );
        assert_eq!(
            Command::decode(&[tag::GET, 0, 0, 0, 1, 0xff]),
            Err(KvDecodeError::BadUtf8)
        );
        let mut trailing = Reply::Done.encode();
        trailing.push(0);
        assert_eq!(
            Reply::decode(&trailing),
            Err(KvDecodeError::TrailingBytes { count: 1 })
        );
        assert_eq!(
            Reply::decode(&[tag::SWAPPED, 2]),
            Err(KvDecodeError::UnknownTag {
                what: "bool",
                tag: 2
            })
        );
    }

    fn put(client: u64, request: u64, key: &str, value: &str) -> LogValue {
        LogValue::Request {
            client,
            request,
            command: Command::Put {
                key: key.into(),
                value: value.into(),
            },
        }
    }

    #[test]
    fn a_batch_round_trips_applies_in_order_and_keeps_at_most_once() {
        let write = |client, request, value: &str| Write {
            client,
            request,
            command: Command::Put {
                key: "k".into(),
                value: value.into(),
            },
        };
        let batch = LogValue::Batch(vec![write(1, 1, "a"), write(2, 1, "b"), write(1, 1, "a")]);
        let bytes = batch.encode();
        assert_eq!(LogValue::decode(&bytes), Ok(batch.clone()));
        let LogValue::Batch(writes) = &batch else {
            unreachable!()
        };
        let lens: usize = writes.iter().map(Write::encoded_len).sum();
        assert_eq!(bytes.len(), LogValue::BATCH_HEADER_LEN + lens);
        let mut kv = KvStore::new();
        assert_eq!(
            kv.apply(&batch),
            vec![
                (1, 1, Reply::Done),
                (2, 1, Reply::Done),
                (1, 1, Reply::Done)
            ]
        );
        // Client 1's repeat was answered from its session, not executed
        // again over client 2's write.
        assert_eq!(kv.read("k"), Some("b"));
        // A count that promises more writes than there are bytes for is
        // an error, not an allocation.
        let mut lying = vec![tag::BATCH];
        lying.extend(u32::MAX.to_be_bytes());
        assert!(matches!(
            LogValue::decode(&lying),
            Err(KvDecodeError::Truncated { .. })
        ));
        let mut cut = bytes.clone();
        cut.pop();
        assert!(LogValue::decode(&cut).is_err());
        assert_eq!(
            LogValue::decode(&LogValue::Batch(vec![]).encode()).map(|v| v.writes().len()),
            Ok(0)
        );
    }

    #[test]
    fn commands_execute() {
        let mut kv = KvStore::new();
        assert_eq!(kv.apply(&LogValue::Noop), vec![]);
        assert_eq!(kv.apply(&put(1, 1, "k", "a")), vec![(1, 1, Reply::Done)]);
        assert_eq!(kv.read("k"), Some("a"));
        let cas = |request, expected: Option<&str>, new: &str| LogValue::Request {
            client: 1,
            request,
            command: Command::Cas {
                key: "k".into(),
                expected: expected.map(Into::into),
                new: new.into(),
            },
        };
        assert_eq!(
            kv.apply(&cas(2, Some("x"), "b"))[0].2,
            Reply::Swapped(false)
        );
        assert_eq!(kv.apply(&cas(3, Some("a"), "b"))[0].2, Reply::Swapped(true));
        assert_eq!(kv.read("k"), Some("b"));
        let get = LogValue::Request {
            client: 1,
            request: 4,
            command: Command::Get { key: "k".into() },
        };
        assert_eq!(kv.apply(&get)[0].2, Reply::Value(Some("b".into())));
        let delete = LogValue::Request {
            client: 1,
            request: 5,
            command: Command::Delete { key: "k".into() },
        };
        assert_eq!(kv.apply(&delete)[0].2, Reply::Done);
        assert_eq!(kv.read("k"), None);
        assert_eq!(kv.apply(&cas(6, None, "c"))[0].2, Reply::Swapped(true));
        assert_eq!(kv.read("k"), Some("c"));
    }

    #[test]
    fn duplicates_are_answered_from_the_session_table_not_re_executed() {
        let mut kv = KvStore::new();
        kv.apply(&put(7, 1, "k", "first"));
        kv.apply(&put(8, 1, "k", "other client"));
        // The retry of client 7's request 1 must not overwrite client 8's write.
        assert_eq!(
            kv.apply(&put(7, 1, "k", "first")),
            vec![(7, 1, Reply::Done)]
        );
        assert_eq!(kv.read("k"), Some("other client"));
        assert_eq!(kv.last_executed(7), Some((1, &Reply::Done)));
    }

    #[test]
    fn a_duplicate_cas_returns_the_original_outcome() {
        let mut kv = KvStore::new();
        let cas = LogValue::Request {
            client: 3,
            request: 10,
            command: Command::Cas {
                key: "k".into(),
                expected: None,
                new: "v".into(),
            },
        };
        assert_eq!(kv.apply(&cas)[0].2, Reply::Swapped(true));
        // Re-executing would fail the comparison; the table keeps the truth.
        assert_eq!(kv.apply(&cas)[0].2, Reply::Swapped(true));
    }

    #[test]
    fn a_snapshot_round_trips_with_its_sessions_and_rejects_bad_bytes() {
        let mut kv = KvStore::new();
        kv.apply(&put(7, 1, "k", "v"));
        kv.apply(&put(8, 3, "j", "w"));
        let bytes = kv.snapshot();
        let back = KvStore::from_snapshot(&bytes).unwrap();
        assert_eq!(back, kv);
        // After an install the retry is answered, not executed again.
        let mut installed = back;
        installed.apply(&put(9, 1, "k", "other"));
        assert_eq!(
            installed.apply(&put(7, 1, "k", "v")),
            vec![(7, 1, Reply::Done)]
        );
        assert_eq!(installed.read("k"), Some("other"));
        // The planted variant's snapshot forgets the sessions.
        let dropped = KvStore::from_snapshot(&kv.snapshot_without_sessions()).unwrap();
        assert_eq!(dropped.data(), kv.data());
        assert_eq!(dropped.last_executed(7), None);
        for len in 0..bytes.len() {
            assert!(KvStore::from_snapshot(&bytes[..len]).is_err());
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(KvStore::from_snapshot(&trailing).is_err());
        // A count far above what the bytes hold fails without allocating.
        assert!(KvStore::from_snapshot(&u64::MAX.to_be_bytes()).is_err());
    }

    #[test]
    fn a_snapshot_in_another_order_is_refused() {
        let mut bytes = 2u64.to_be_bytes().to_vec();
        for key in ["b", "a"] {
            put_str(&mut bytes, key);
            put_str(&mut bytes, "v");
        }
        bytes.extend(0u64.to_be_bytes());
        assert_eq!(
            KvStore::from_snapshot(&bytes),
            Err(KvDecodeError::Unordered { what: "keys" })
        );
    }

    #[test]
    fn older_requests_are_ignored() {
        let mut kv = KvStore::new();
        kv.apply(&put(1, 5, "k", "new"));
        assert_eq!(kv.apply(&put(1, 4, "k", "old")), vec![]);
        assert_eq!(kv.read("k"), Some("new"));
        assert_eq!(kv.last_executed(1), Some((5, &Reply::Done)));
    }
}
