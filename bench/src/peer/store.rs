//! openraft's storage for the peer harness: the log and the vote in memory,
//! and riptide's own KV state machine (`KvStore`, with its at-most-once
//! sessions), so both systems apply exactly the same commands the same way.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::ops::RangeBounds;
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage, RaftStateMachine, Snapshot};
use openraft::{
    Entry, EntryPayload, LogId, RaftLogReader, RaftSnapshotBuilder, SnapshotMeta, StorageError,
    StorageIOError, StoredMembership, Vote,
};
use riptide_control::kv::{KvStore, LogValue};
use tokio::sync::Mutex;

use super::{NodeId, Response, Types};

type Node = openraft::BasicNode;

#[derive(Default)]
struct Log {
    entries: BTreeMap<u64, Entry<Types>>,
    last_purged: Option<LogId<NodeId>>,
    vote: Option<Vote<NodeId>>,
    committed: Option<LogId<NodeId>>,
}

/// The Raft log, in memory.
#[derive(Clone, Default)]
pub struct LogStore {
    inner: Arc<Mutex<Log>>,
}

impl RaftLogReader<Types> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<Types>>, StorageError<NodeId>> {
        let log = self.inner.lock().await;
        Ok(log.entries.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl RaftLogStorage<Types> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<Types>, StorageError<NodeId>> {
        let log = self.inner.lock().await;
        let last = log.entries.values().next_back().map(|e| e.log_id);
        Ok(LogState {
            last_purged_log_id: log.last_purged,
            last_log_id: last.or(log.last_purged),
        })
    }

    async fn get_log_reader(&mut self) -> LogStore {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.inner.lock().await.vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        Ok(self.inner.lock().await.vote)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        self.inner.lock().await.committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        Ok(self.inner.lock().await.committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<Types>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<Types>> + Send,
        I::IntoIter: Send,
    {
        let mut log = self.inner.lock().await;
        for entry in entries {
            log.entries.insert(entry.log_id.index, entry);
        }
        // In memory, as riptide's replicas keep their logs: "flushed" at once.
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let mut log = self.inner.lock().await;
        log.entries.split_off(&log_id.index);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let mut log = self.inner.lock().await;
        log.entries = log.entries.split_off(&(log_id.index + 1));
        log.last_purged = Some(log_id);
        Ok(())
    }
}

#[derive(Default)]
struct Machine {
    kv: KvStore,
    applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, Node>,
}

/// riptide's KV store as openraft's state machine.
#[derive(Clone, Default)]
pub struct StateMachine {
    inner: Arc<Mutex<Machine>>,
}

impl StateMachine {
    /// A read of the current state (after `ensure_linearizable`).
    pub async fn read(&self, key: &str) -> Option<String> {
        self.inner.lock().await.kv.read(key).map(str::to_string)
    }
}

/// The harness runs with `SnapshotPolicy::Never` and never purges, so
/// openraft never asks for a snapshot; if it did, it gets this error.
fn no_snapshots() -> StorageError<NodeId> {
    let error = io::Error::other("the openraft peer harness runs without snapshots");
    StorageIOError::read_snapshot(None, openraft::AnyError::new(&error)).into()
}

impl RaftSnapshotBuilder<Types> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<Types>, StorageError<NodeId>> {
        Err(no_snapshots())
    }
}

impl RaftStateMachine<Types> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, Node>), StorageError<NodeId>> {
        let m = self.inner.lock().await;
        Ok((m.applied, m.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<Types>> + Send,
        I::IntoIter: Send,
    {
        let mut m = self.inner.lock().await;
        let mut responses = Vec::new();
        for entry in entries {
            m.applied = Some(entry.log_id);
            let reply = match entry.payload {
                EntryPayload::Blank => None,
                EntryPayload::Normal(request) => LogValue::decode(&request.0)
                    .ok()
                    .and_then(|value| m.kv.apply(&value).into_iter().next())
                    .map(|(_, _, reply)| reply.encode()),
                EntryPayload::Membership(membership) => {
                    m.membership = StoredMembership::new(Some(entry.log_id), membership);
                    None
                }
            };
            responses.push(Response(reply));
        }
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> StateMachine {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<io::Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Err(no_snapshots())
    }

    async fn install_snapshot(
        &mut self,
        _meta: &SnapshotMeta<NodeId, Node>,
        _snapshot: Box<io::Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        Err(no_snapshots())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<Types>>, StorageError<NodeId>> {
        Ok(None)
    }
}
