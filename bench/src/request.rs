//! A client's request as the benchmark's stand-in servers (the bare UDP
//! round, openraft's front) take it from a datagram of riptide's client
//! protocol. They answer on loopback for the benchmark only, so the cookie
//! is not checked (`riptide_node::cookie`).

use riptide_wire::{Envelope, Message};

/// Who asked, which of its requests, and what to do.
pub struct ClientRequest {
    pub client: u64,
    pub request: u64,
    pub command: Vec<u8>,
}

/// The request in `datagram` for `group`, or `None` for anything else.
pub fn client_request(datagram: &[u8], group: u16) -> Option<ClientRequest> {
    match Envelope::decode(datagram, group).ok()?.message {
        Message::ClientRequest {
            client,
            request,
            command,
            ..
        } => Some(ClientRequest {
            client,
            request,
            command,
        }),
        _ => None,
    }
}
