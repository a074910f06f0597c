//! riptide's wire formats, defined once and shared by the hardware (`riptide-hw`),
//! the driver (`riptide-driver`) and the software path (`riptide-control`).
//!
//! - [`layout`]: byte offsets of the Ethernet/IPv4/UDP/riptide header: the single
//!   source of truth that the HDL parser, the codecs and `docs/wire.md` read.
//! - [`message`]: the logical messages of the protocol and their encoding as a
//!   riptide datagram (riptide header + payload, i.e. a UDP payload).
//! - [`frame`]: the Ethernet/IPv4/UDP envelope around a datagram, as a NIC sees it.
//! - [`doc`]: `docs/wire.md`'s tables, generated from the above.
//! - [`host`]: the records exchanged between the host and the NIC (commands in,
//!   events out), spoken by every NIC backend.
//!
//! - [`life`]: which incarnation of a replica a message comes from.
//! - [`regs`]: the NIC's AXI4-Lite register map (offsets, fields, counters).
//! - [`records`]: the byte layout of host records on the XDMA/QDMA streams.
//!
//! Everything that decodes bytes returns a typed [`DecodeError`]; nothing panics
//! on malformed input.

pub mod doc;
pub mod error;
pub mod frame;
pub mod host;
pub mod layout;
pub mod life;
pub mod message;
pub mod records;
pub mod regs;

pub use error::{DecodeError, EncodeError};
pub use frame::{Endpoint, FrameView, decode_frame, encode_frame, ipv4_checksum};
pub use message::{Ballot, Entry, Envelope, Header, Message, MsgType};
