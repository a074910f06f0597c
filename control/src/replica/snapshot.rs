//! Snapshots and log compaction (`docs/protocol.md`, "Snapshots and log
//! compaction"): taking a snapshot of the state machine with its session
//! table every `snapshot_every` applied entries and dropping the log below
//! it; serving it in chunks to a replica whose catch-up asks for a slot we
//! dropped; downloading and installing one.
//!
//! The transfer is paced by the downloader: one SNAPSHOT_REQUEST brings at
//! most [`SNAPSHOT_BURST`] chunks, and the next request goes out only once
//! that burst arrived (or on the catch-up timer if part of it was lost).

use riptide_wire::Message;

use super::{Output, Replica, Role, Variant};
use crate::kv::{KvStore, MAX_SNAPSHOT_LEN};

/// Bytes of snapshot one SNAPSHOT_CHUNK carries (a datagram holds twice
/// that; a smaller chunk keeps each one cheap to retransmit).
pub(super) const SNAPSHOT_CHUNK_LEN: usize = 32 * 1024;

/// Most chunks one SNAPSHOT_REQUEST (or a catch-up request answered with a
/// snapshot) gets.
pub(super) const SNAPSHOT_BURST: u64 = 4;

/// Unanswered requests after which a download is given up and catch-up
/// starts over at the next replica.
const DOWNLOAD_PATIENCE: u8 = 3;

/// The state machine at `slot`, encoded ([`KvStore::snapshot`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Snapshot {
    pub(super) slot: u64,
    pub(super) bytes: Vec<u8>,
}

/// A snapshot being received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Download {
    from: u8,
    slot: u64,
    total: u64,
    bytes: Vec<u8>,
    /// The offset the last request asked to be served up to.
    asked_upto: u64,
    /// Requests sent since the last chunk that made progress.
    unanswered: u8,
}

impl Replica {
    /// Take a snapshot at `applied` once `snapshot_every` entries were
    /// applied since the last, and drop the log up to it.
    pub(super) fn maybe_snapshot(&mut self) {
        let every = self.cfg.snapshot_every;
        if every == 0 || self.applied < self.log.base() + every {
            return;
        }
        let bytes = if self.cfg.variant == Variant::SnapshotDropsSessions {
            self.kv.snapshot_without_sessions()
        } else {
            self.kv.snapshot()
        };
        self.snapshot = Some(Snapshot {
            slot: self.applied,
            bytes,
        });
        self.log.compact(self.applied);
    }

    /// The slot our snapshot covers up to (0: none).
    pub fn snapshot_slot(&self) -> u64 {
        self.snapshot.as_ref().map_or(0, |snapshot| snapshot.slot)
    }

    /// Send our snapshot to `to` from `offset` on: at most
    /// [`SNAPSHOT_BURST`] chunks (at least one, so an empty tail still
    /// tells the requester it has everything).
    pub(super) fn serve_snapshot(&mut self, to: u8, offset: u64) {
        let Some(snapshot) = &self.snapshot else {
            return;
        };
        let total = snapshot.bytes.len() as u64;
        let (ballot, slot, commit) = (self.promised, snapshot.slot, self.log.commit());
        let mut chunks = Vec::new();
        let mut at = offset.min(total);
        for _ in 0..SNAPSHOT_BURST {
            let end = (at + SNAPSHOT_CHUNK_LEN as u64).min(total);
            chunks.push(Message::SnapshotChunk {
                ballot,
                slot,
                commit,
                total,
                offset: at,
                data: snapshot.bytes[at as usize..end as usize].to_vec(),
            });
            at = end;
            if at == total {
                break;
            }
        }
        for chunk in chunks {
            self.send(to, chunk);
        }
    }

    /// SNAPSHOT_REQUEST: the snapshot asked for from `offset`, or, if ours
    /// moved on, ours from the start.
    pub(super) fn snapshot_request(&mut self, from: u8, slot: u64, offset: u64) {
        match self.snapshot_slot() {
            0 => {}
            ours if ours == slot => self.serve_snapshot(from, offset),
            ours if ours > slot => self.serve_snapshot(from, 0),
            _ => {}
        }
    }

    /// A chunk of `sender`'s snapshot of slots up to `slot`.
    /// Only a follower or candidate installs: a leader's commit is the
    /// group's newest, and a recovering replica takes no chunk.
    pub(super) fn snapshot_chunk(
        &mut self,
        sender: u8,
        slot: u64,
        commit: u64,
        (total, offset): (u64, u64),
        data: Vec<u8>,
    ) {
        if matches!(self.role(), Role::Leader | Role::Recovering) {
            return;
        }
        self.known_commit = self.known_commit.max(commit);
        if slot <= self.log.commit() || total > MAX_SNAPSHOT_LEN {
            return;
        }
        match &mut self.catchup.download {
            Some(d) if d.from == sender && d.slot == slot && d.total == total => {}
            other => {
                // Only the start of a snapshot starts a download; a newer
                // one (or another sender's, after we gave up on the first)
                // replaces the one under way.
                if offset != 0 || other.as_ref().is_some_and(|d| slot < d.slot) {
                    return;
                }
                *other = Some(Download {
                    from: sender,
                    slot,
                    total,
                    bytes: Vec::new(),
                    asked_upto: SNAPSHOT_BURST * SNAPSHOT_CHUNK_LEN as u64,
                    unanswered: 0,
                });
            }
        }
        let Some(download) = &mut self.catchup.download else {
            return;
        };
        let held = download.bytes.len() as u64;
        if offset != held || held + data.len() as u64 > total {
            return;
        }
        download.bytes.extend_from_slice(&data);
        download.unanswered = 0;
        // Progress restarts the catch-up timer: it fires only when chunks
        // stop coming.
        self.catchup.last_sent = Some(self.now);
        let held = download.bytes.len() as u64;
        if held == total {
            let download = self.catchup.download.take().expect("just updated");
            return self.install(download.slot, download.bytes);
        }
        if held >= download.asked_upto {
            // The burst we asked for is in: ask for the next one now.
            download.asked_upto = held + SNAPSHOT_BURST * SNAPSHOT_CHUNK_LEN as u64;
            let request = Message::SnapshotRequest {
                ballot: self.promised,
                slot,
                offset: held,
            };
            self.catchup.last_sent = Some(self.now);
            self.send(sender, request);
        }
    }

    /// The catch-up timer fired during a download: ask its sender again from
    /// where we are, or give up on it after [`DOWNLOAD_PATIENCE`] requests.
    /// Returns whether the download took the turn.
    pub(super) fn resume_download(&mut self) -> bool {
        let Some(download) = &mut self.catchup.download else {
            return false;
        };
        if download.unanswered >= DOWNLOAD_PATIENCE || download.slot <= self.log.commit() {
            self.catchup.download = None;
            return false;
        }
        download.unanswered += 1;
        let held = download.bytes.len() as u64;
        download.asked_upto = held + SNAPSHOT_BURST * SNAPSHOT_CHUNK_LEN as u64;
        let (to, slot) = (download.from, download.slot);
        self.catchup.last_sent = Some(self.now);
        let ballot = self.promised;
        self.send(
            to,
            Message::SnapshotRequest {
                ballot,
                slot,
                offset: held,
            },
        );
        true
    }

    /// Replace the state machine by the snapshot of every slot up to `slot`
    /// (a complete download; untrusted bytes: one that does not decode is
    /// dropped, and catch-up asks again).
    fn install(&mut self, slot: u64, bytes: Vec<u8>) {
        let Ok(kv) = KvStore::from_snapshot(&bytes) else {
            return;
        };
        if slot <= self.log.commit() {
            return;
        }
        self.kv = kv;
        self.applied = slot;
        self.log.install(slot);
        self.out.push(Output::Installed {
            slot,
            state: bytes.clone(),
        });
        self.snapshot = Some(Snapshot { slot, bytes });
        // Progress: ask for the tail now rather than on the timer.
        self.catchup.last_sent = None;
        self.catchup.unanswered = 0;
    }
}
