//! A binary codec for the openraft peer's RPCs: fixed-width little-endian
//! integers and length-prefixed bytes, so an AppendEntries of N small
//! entries costs a few dozen bytes per entry to build and parse, as a
//! production openraft deployment's codec (bincode, protobuf) would.
//!
//! The hot messages (AppendEntries, Vote and their answers) are encoded
//! field by field. What never occurs in a benchmark run but must still
//! work (membership entries, errors, snapshots) is carried as JSON bytes
//! inside the binary frame: correct, and rare enough that its cost does
//! not show.
//!
//! Bytes from the socket are untrusted: every read is bounds-checked and a
//! bad frame is an `InvalidData` error (the connection is dropped), never a
//! panic.

use std::io;

use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, VoteRequest, VoteResponse};
use openraft::{Entry, EntryPayload, LeaderId, LogId, Vote};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{NodeId, Request, Types};

/// Appends fields to a frame body.
#[derive(Default)]
pub struct Writer {
    pub bytes: Vec<u8>,
}

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }

    pub fn u64(&mut self, v: u64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    pub fn bytes(&mut self, v: &[u8]) {
        self.u64(v.len() as u64);
        self.bytes.extend_from_slice(v);
    }

    pub fn json(&mut self, v: &impl Serialize) -> io::Result<()> {
        let bytes = serde_json::to_vec(v)?;
        self.bytes(&bytes);
        Ok(())
    }

    pub fn vote(&mut self, v: &Vote<NodeId>) {
        self.u64(v.leader_id.term);
        self.u64(v.leader_id.node_id);
        self.u8(u8::from(v.committed));
    }

    pub fn log_id(&mut self, v: &Option<LogId<NodeId>>) {
        match v {
            None => self.u8(0),
            Some(id) => {
                self.u8(1);
                self.u64(id.leader_id.term);
                self.u64(id.leader_id.node_id);
                self.u64(id.index);
            }
        }
    }

    pub fn entry(&mut self, e: &Entry<Types>) -> io::Result<()> {
        self.log_id(&Some(e.log_id));
        match &e.payload {
            EntryPayload::Blank => self.u8(0),
            EntryPayload::Normal(request) => {
                self.u8(1);
                self.bytes(&request.0);
            }
            EntryPayload::Membership(m) => {
                self.u8(2);
                self.json(m)?;
            }
        }
        Ok(())
    }

    pub fn append_request(&mut self, r: &AppendEntriesRequest<Types>) -> io::Result<()> {
        self.vote(&r.vote);
        self.log_id(&r.prev_log_id);
        self.log_id(&r.leader_commit);
        self.u64(r.entries.len() as u64);
        for e in &r.entries {
            self.entry(e)?;
        }
        Ok(())
    }

    pub fn append_response(&mut self, r: &AppendEntriesResponse<NodeId>) {
        match r {
            AppendEntriesResponse::Success => self.u8(0),
            AppendEntriesResponse::PartialSuccess(id) => {
                self.u8(1);
                self.log_id(id);
            }
            AppendEntriesResponse::Conflict => self.u8(2),
            AppendEntriesResponse::HigherVote(v) => {
                self.u8(3);
                self.vote(v);
            }
        }
    }

    pub fn vote_request(&mut self, r: &VoteRequest<NodeId>) {
        self.vote(&r.vote);
        self.log_id(&r.last_log_id);
    }

    pub fn vote_response(&mut self, r: &VoteResponse<NodeId>) {
        self.vote(&r.vote);
        self.u8(u8::from(r.vote_granted));
        self.log_id(&r.last_log_id);
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("bad frame: {what}"))
}

/// Reads fields from a frame body.
pub struct Reader<'a> {
    pub bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(invalid("truncated"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    pub fn u8(&mut self) -> io::Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn u64(&mut self) -> io::Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    pub fn bool(&mut self) -> io::Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(invalid("a bool that is neither 0 nor 1")),
        }
    }

    pub fn bytes(&mut self) -> io::Result<&'a [u8]> {
        let len = usize::try_from(self.u64()?).map_err(|_| invalid("length"))?;
        self.take(len)
    }

    pub fn json<T: DeserializeOwned>(&mut self) -> io::Result<T> {
        Ok(serde_json::from_slice(self.bytes()?)?)
    }

    pub fn vote(&mut self) -> io::Result<Vote<NodeId>> {
        let (term, node_id) = (self.u64()?, self.u64()?);
        Ok(Vote {
            leader_id: LeaderId::new(term, node_id),
            committed: self.bool()?,
        })
    }

    pub fn log_id(&mut self) -> io::Result<Option<LogId<NodeId>>> {
        match self.u8()? {
            0 => Ok(None),
            1 => {
                let (term, node_id, index) = (self.u64()?, self.u64()?, self.u64()?);
                Ok(Some(LogId::new(LeaderId::new(term, node_id), index)))
            }
            _ => Err(invalid("option tag")),
        }
    }

    pub fn entry(&mut self) -> io::Result<Entry<Types>> {
        let log_id = self
            .log_id()?
            .ok_or_else(|| invalid("an entry without id"))?;
        let payload = match self.u8()? {
            0 => EntryPayload::Blank,
            1 => EntryPayload::Normal(Request(self.bytes()?.to_vec())),
            2 => EntryPayload::Membership(self.json()?),
            _ => return Err(invalid("payload tag")),
        };
        Ok(Entry { log_id, payload })
    }

    pub fn append_request(&mut self) -> io::Result<AppendEntriesRequest<Types>> {
        let vote = self.vote()?;
        let prev_log_id = self.log_id()?;
        let leader_commit = self.log_id()?;
        let count = self.u64()?;
        // Each entry takes at least 26 bytes: a count larger than the
        // frame could hold is a lie, not a reason to allocate.
        if count > self.bytes.len() as u64 / 26 {
            return Err(invalid("entry count"));
        }
        let entries = (0..count)
            .map(|_| self.entry())
            .collect::<io::Result<_>>()?;
        Ok(AppendEntriesRequest {
            vote,
            prev_log_id,
            leader_commit,
            entries,
        })
    }

    pub fn append_response(&mut self) -> io::Result<AppendEntriesResponse<NodeId>> {
        Ok(match self.u8()? {
            0 => AppendEntriesResponse::Success,
            1 => AppendEntriesResponse::PartialSuccess(self.log_id()?),
            2 => AppendEntriesResponse::Conflict,
            3 => AppendEntriesResponse::HigherVote(self.vote()?),
            _ => return Err(invalid("append response tag")),
        })
    }

    pub fn vote_request(&mut self) -> io::Result<VoteRequest<NodeId>> {
        Ok(VoteRequest {
            vote: self.vote()?,
            last_log_id: self.log_id()?,
        })
    }

    pub fn vote_response(&mut self) -> io::Result<VoteResponse<NodeId>> {
        Ok(VoteResponse {
            vote: self.vote()?,
            vote_granted: self.bool()?,
            last_log_id: self.log_id()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use openraft::Membership;

    use super::*;

    fn id(term: u64, node: u64, index: u64) -> LogId<NodeId> {
        LogId::new(LeaderId::new(term, node), index)
    }

    #[test]
    fn an_append_with_every_payload_kind_round_trips() {
        let vote = Vote {
            leader_id: LeaderId::new(3, 1),
            committed: true,
        };
        let membership: Membership<NodeId, openraft::BasicNode> =
            Membership::new(vec![BTreeSet::from([0, 1, 2])], None);
        let request = AppendEntriesRequest::<Types> {
            vote,
            prev_log_id: Some(id(2, 0, 9)),
            leader_commit: None,
            entries: vec![
                Entry {
                    log_id: id(3, 1, 10),
                    payload: EntryPayload::Blank,
                },
                Entry {
                    log_id: id(3, 1, 11),
                    payload: EntryPayload::Normal(Request(b"put k v".to_vec())),
                },
                Entry {
                    log_id: id(3, 1, 12),
                    payload: EntryPayload::Membership(membership),
                },
            ],
        };
        let mut w = Writer::default();
        w.append_request(&request).unwrap();
        let back = Reader { bytes: &w.bytes }.append_request().unwrap();
        assert_eq!(format!("{back:?}"), format!("{request:?}"));

        for response in [
            AppendEntriesResponse::Success,
            AppendEntriesResponse::PartialSuccess(Some(id(1, 2, 3))),
            AppendEntriesResponse::Conflict,
            AppendEntriesResponse::HigherVote(vote),
        ] {
            let mut w = Writer::default();
            w.append_response(&response);
            assert_eq!(
                Reader { bytes: &w.bytes }.append_response().unwrap(),
                response
            );
        }
        let vote_response = VoteResponse {
            vote,
            vote_granted: true,
            last_log_id: Some(id(3, 1, 12)),
        };
        let mut w = Writer::default();
        w.vote_response(&vote_response);
        assert_eq!(
            Reader { bytes: &w.bytes }.vote_response().unwrap(),
            vote_response
        );
    }

    #[test]
    fn truncated_or_lying_frames_are_errors() {
        let request = AppendEntriesRequest::<Types> {
            vote: Vote {
                leader_id: LeaderId::new(1, 0),
                committed: true,
            },
            prev_log_id: None,
            leader_commit: None,
            entries: vec![Entry {
                log_id: id(1, 0, 1),
                payload: EntryPayload::Normal(Request(vec![7; 40])),
            }],
        };
        let mut w = Writer::default();
        w.append_request(&request).unwrap();
        for cut in 0..w.bytes.len() {
            assert!(
                Reader {
                    bytes: &w.bytes[..cut]
                }
                .append_request()
                .is_err(),
                "{cut}"
            );
        }
        // An entry count of 2^60 in a short frame.
        let mut lying = w.bytes.clone();
        let count_at = 17 + 1 + 1;
        lying[count_at..count_at + 8].copy_from_slice(&(1u64 << 60).to_le_bytes());
        assert!(Reader { bytes: &lying }.append_request().is_err());
    }
}
