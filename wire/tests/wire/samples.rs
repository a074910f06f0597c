//! One valid envelope of every message type, with non-trivial field values:
//! the seeds for targeted tests and for the fuzzer's mutations.

use riptide_wire::{Ballot, Entry, Envelope, Message};

pub const GROUP: u16 = 0x0a0b;

pub fn envelopes() -> Vec<Envelope> {
    let ballot = Ballot::new(7, 2);
    let entries = vec![
        Entry {
            slot: 11,
            ballot,
            value: b"put k v".to_vec(),
        },
        Entry {
            slot: 12,
            ballot: Ballot::new(6, 1),
            value: Vec::new(),
        },
    ];
    let messages = vec![
        Message::Accept {
            ballot,
            slot: 12,
            commit: 10,
            value: b"value".to_vec(),
        },
        Message::Accepted { ballot, slot: 12 },
        Message::Commit { ballot, commit: 10 },
        Message::Nack { ballot, slot: 9 },
        Message::Prepare {
            ballot,
            commit: 10,
            lives: vec![0, 3, 1],
        },
        Message::Promise {
            ballot,
            commit: 10,
            lives: vec![0; 3],
            entries: entries.clone(),
        },
        Message::CatchupRequest { ballot, from: 5 },
        Message::CatchupResponse {
            ballot,
            commit: 12,
            entries: entries.clone(),
        },
        Message::RecoveryRequest {
            nonce: 0xdead_beef,
            lives: vec![2, 0, 0, 1, 0],
        },
        Message::RecoveryResponse {
            nonce: 0xdead_beef,
            lives: vec![0; 3],
            ballot,
            commit: 10,
            entries,
        },
        Message::SnapshotRequest {
            ballot,
            slot: 4096,
            offset: 65536,
        },
        Message::SnapshotChunk {
            ballot,
            slot: 4096,
            commit: 4100,
            total: 70000,
            offset: 65536,
            data: vec![7; 40],
        },
        Message::ClientRequest {
            client: 42,
            request: 3,
            cookie: 0x1234_5678_9abc_def1,
            command: b"get k".to_vec(),
        },
        Message::ClientReply {
            client: 42,
            request: 3,
            leader: Some(2),
            result: Some(b"v".to_vec()),
        },
    ];
    messages
        .into_iter()
        .map(|message| Envelope {
            group: GROUP,
            sender: 1,
            life: 0,
            message,
        })
        .collect()
}

/// The sample of one message type.
pub fn envelope(code: u8) -> Envelope {
    envelopes()
        .into_iter()
        .find(|e| e.message.msg_type().code() == code)
        .expect("a sample of every type")
}
