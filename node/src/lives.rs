//! Whether a replica process has run before.
//!
//! A replica keeps its log and promises in memory, so every restart is a crash
//! with amnesia, and a replica that forgot its promises must recover from the
//! others before it votes (`docs/protocol.md`, "Crash with amnesia"). Leaving
//! that to a command-line flag makes the unsafe choice the default, so the one
//! thing a replica writes to disk is a record that it has lived: a count of its
//! starts, in `<state dir>/group-<g>-replica-<id>.lives`. A start that finds
//! it recovers. A start without one is a new replica or one that lost its
//! state; the peers tell which ([`settle_with_peers`]): it starts fresh only
//! while no peer shows the group has run.
//!
//! The record is untrusted bytes from disk: anything but a count is an error
//! that says what to do, never a silent fresh start.

use std::fs;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;
use tracing::info;

use super::config::ClusterConfig;
use super::status::{history, probe};

/// How long a start that has no record to go by (a `--bootstrap`, or no
/// start record) listens to its peers before it decides how to start. Peers
/// answer status requests from their loop within a tick or two; this is long
/// enough for a loaded host and short enough to wait at such a start.
const PEER_PROBE: Duration = Duration::from_millis(500);

#[derive(Debug, Error)]
pub enum LivesError {
    #[error("cannot create the state directory {path}")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot read {path}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {path}")]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "{path} is not a start count ({content:?}); if this replica ran before, start it with \
         --rejoin (it recovers from the others and rewrites the record), if the whole group is \
         new, with --bootstrap"
    )]
    Corrupt { path: PathBuf, content: String },
    #[error("cannot ask the other replicas whether the group has run")]
    Probe(#[source] io::Error),
    #[error(
        "--bootstrap: the replica at {addr} answers and {why}, so the group has run; a replica \
         that starts fresh in such a group can break agreement. Start it without --bootstrap: \
         it recovers from the others"
    )]
    GroupHasRun { addr: SocketAddr, why: String },
}

/// How a replica starts, and which start of it this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Life {
    /// 1 for the first start of this replica.
    pub number: u64,
    /// The replica ran before: it must recover before it votes.
    pub recover: bool,
}

impl Life {
    /// The replica's incarnation (`docs/protocol.md`, "Lives"): the number of
    /// earlier starts. A guess that is too low (a lost or corrupt record) is
    /// raised by the protocol; too high only skips lives, so saturating is safe.
    pub fn incarnation(&self) -> u32 {
        u32::try_from(self.number.saturating_sub(1)).unwrap_or(u32::MAX)
    }
}

/// What the operator said about this start, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartMode {
    /// Recover if the record says this replica ran before.
    #[default]
    FromRecord,
    /// Recover even without a record (the state directory was lost).
    Rejoin,
    /// A brand-new group: start fresh and restart the count.
    Bootstrap,
}

/// A start decided from the record but not written yet: [`PendingLife::commit`]
/// writes it once the replica is sure to run (its ports bound, its NIC
/// open), so a start that fails on the way leaves the record as it was.
#[derive(Debug)]
#[must_use = "a start that is not committed leaves no record"]
pub struct PendingLife {
    state_dir: PathBuf,
    path: PathBuf,
    life: Life,
    found_record: bool,
}

impl PendingLife {
    pub fn life(&self) -> Life {
        self.life
    }

    /// Whether a record was there: without one, this is either a new
    /// replica or one that lost its state, which only the peers can tell.
    pub fn found_record(&self) -> bool {
        self.found_record
    }

    /// Writes the record durably, before the replica sends anything: a crash
    /// right after this call still counts as a life.
    pub fn commit(self) -> Result<(Life, Record), LivesError> {
        fs::create_dir_all(&self.state_dir).map_err(|source| LivesError::CreateDir {
            path: self.state_dir.clone(),
            source,
        })?;
        let mut record = Record {
            path: self.path,
            count: 0,
        };
        record.write(self.life.number)?;
        Ok((self.life, record))
    }
}

/// The record of a running replica, kept so that an incarnation the
/// protocol raised (a peer knew a later life) is the floor of the next start.
#[derive(Debug)]
pub struct Record {
    path: PathBuf,
    count: u64,
}

impl Record {
    /// Records that this life runs as `incarnation`, if that is above what
    /// the record says; returns whether it wrote.
    pub fn raise(&mut self, incarnation: u32) -> Result<bool, LivesError> {
        let count = u64::from(incarnation) + 1;
        if count <= self.count {
            return Ok(false);
        }
        self.write(count)?;
        Ok(true)
    }

    fn write(&mut self, count: u64) -> Result<(), LivesError> {
        write_durably(&self.path, &format!("{count}\n")).map_err(|source| LivesError::Write {
            path: self.path.clone(),
            source,
        })?;
        self.count = count;
        Ok(())
    }
}

/// Reads replica `id`'s record in `state_dir` and decides how it starts,
/// without writing anything.
pub fn plan_life(
    state_dir: &Path,
    group: u16,
    id: u8,
    mode: StartMode,
) -> Result<PendingLife, LivesError> {
    let path = state_dir.join(format!("group-{group}-replica-{id}.lives"));
    let recorded = match mode {
        StartMode::Bootstrap => 0,
        StartMode::FromRecord => read_count(&path)?,
        // A rejoin does not need the count: recovery raises a low guess. A
        // record that exists but is unreadable still says the replica lived
        // at least once, and the commit replaces it with a good one.
        StartMode::Rejoin => match read_count(&path) {
            Err(LivesError::Corrupt { .. }) => 1,
            other => other?,
        },
    };
    Ok(PendingLife {
        state_dir: state_dir.to_path_buf(),
        path,
        life: Life {
            number: recorded + 1,
            recover: mode == StartMode::Rejoin || (mode == StartMode::FromRecord && recorded > 0),
        },
        found_record: recorded > 0,
    })
}

/// [`plan_life`] and [`PendingLife::commit`] at once.
pub fn begin_life(
    state_dir: &Path,
    group: u16,
    id: u8,
    mode: StartMode,
) -> Result<Life, LivesError> {
    Ok(plan_life(state_dir, group, id, mode)?.commit()?.0)
}

/// A start with no record to go by votes as if it never promised anything,
/// which is only safe in a group that has not run yet. The peers tell: one
/// that is recovering, restarted or committed anything shows a group with
/// votes and values this replica may have held. Then a `--bootstrap` is
/// refused and a start without a record recovers instead (the plan becomes
/// a [`StartMode::Rejoin`]); with no such peer (none answers, or all are
/// newborn too) the plan stands.
pub fn settle_with_peers(
    config: &ClusterConfig,
    id: u8,
    mode: StartMode,
    plan: PendingLife,
    state_dir: &Path,
) -> Result<PendingLife, LivesError> {
    let peers: Vec<SocketAddr> = config
        .replicas
        .iter()
        .filter(|r| r.id != id)
        .map(|r| r.client.into())
        .collect();
    let answers = probe(&peers, PEER_PROBE).map_err(LivesError::Probe)?;
    let history = answers
        .iter()
        .find_map(|(&addr, report)| history(report).map(|why| (addr, why)));
    match (mode, history) {
        (StartMode::Bootstrap, Some((addr, why))) => Err(LivesError::GroupHasRun { addr, why }),
        (StartMode::FromRecord, Some((addr, why))) => {
            info!(
                %addr,
                why,
                "no start record, and a peer shows the group has run: recovering as if --rejoin"
            );
            plan_life(state_dir, config.group, id, StartMode::Rejoin)
        }
        (_, None) => {
            info!(
                answered = answers.len(),
                "no peer shows the group has run: starting as a new group's replica"
            );
            Ok(plan)
        }
        (StartMode::Rejoin, Some(_)) => Ok(plan),
    }
}

/// Starts recorded so far; 0 when there is no record.
fn read_count(path: &Path) -> Result<u64, LivesError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(source) => {
            return Err(LivesError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    match text.trim().parse::<u64>() {
        // A count is an incarnation (32 bits, `Life::incarnation`) plus one
        // at most: anything larger was not written by a replica, and would
        // fail a later start instead of this one.
        Ok(count) if count > 0 && count <= u64::from(u32::MAX) => Ok(count),
        _ => Err(LivesError::Corrupt {
            path: path.to_path_buf(),
            content: text.chars().take(40).collect(),
        }),
    }
}

/// Write-to-temporary, fsync, rename, fsync the directory: the record is
/// either the old count or the new one, never a torn write.
fn write_durably(path: &Path, content: &str) -> io::Result<()> {
    let temporary = path.with_extension("lives.tmp");
    let mut file = fs::File::create(&temporary)?;
    file.write_all(content.as_bytes())?;
    file.sync_all()?;
    fs::rename(&temporary, path)?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("riptide-lives-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn the_first_start_is_fresh_and_every_later_one_recovers() {
        let dir = scratch("lives");
        let first = begin_life(&dir, 7, 1, StartMode::FromRecord).unwrap();
        assert_eq!(
            first,
            Life {
                number: 1,
                recover: false
            }
        );
        for number in 2..=3 {
            let life = begin_life(&dir, 7, 1, StartMode::FromRecord).unwrap();
            assert_eq!(
                life,
                Life {
                    number,
                    recover: true
                }
            );
        }
        // Another replica (or group) in the same directory has its own record.
        assert!(
            !begin_life(&dir, 7, 2, StartMode::FromRecord)
                .unwrap()
                .recover
        );
        assert!(
            !begin_life(&dir, 8, 1, StartMode::FromRecord)
                .unwrap()
                .recover
        );
    }

    #[test]
    fn rejoin_recovers_without_a_record_and_bootstrap_starts_over() {
        let dir = scratch("modes");
        let life = begin_life(&dir, 1, 0, StartMode::Rejoin).unwrap();
        assert_eq!(
            life,
            Life {
                number: 1,
                recover: true
            }
        );
        let life = begin_life(&dir, 1, 0, StartMode::Bootstrap).unwrap();
        assert_eq!(
            life,
            Life {
                number: 1,
                recover: false
            }
        );
        assert!(
            begin_life(&dir, 1, 0, StartMode::FromRecord)
                .unwrap()
                .recover
        );
    }

    #[test]
    fn a_record_that_is_not_a_count_is_an_error_that_says_what_to_do() {
        let dir = scratch("corrupt");
        fs::create_dir_all(&dir).unwrap();
        for garbage in [
            &b"\xff\xfe"[..],
            b"",
            b"0",
            b"-3",
            b"12 lives",
            b"18446744073709551615",
        ] {
            fs::write(dir.join("group-1-replica-0.lives"), garbage).unwrap();
            let error = begin_life(&dir, 1, 0, StartMode::FromRecord).unwrap_err();
            assert!(
                matches!(error, LivesError::Corrupt { .. }),
                "{garbage:?}: {error}"
            );
            assert!(error.to_string().contains("--rejoin"), "{error}");
        }
        // Both ways out the error names work on the bad record: a rejoin
        // recovers as some later life and rewrites the record with a count.
        let rejoin = begin_life(&dir, 1, 0, StartMode::Rejoin).unwrap();
        assert!(rejoin.recover && rejoin.incarnation() >= 1, "{rejoin:?}");
        let next = begin_life(&dir, 1, 0, StartMode::FromRecord).unwrap();
        assert_eq!(next.number, rejoin.number + 1);
        assert!(next.recover);

        fs::write(dir.join("group-1-replica-0.lives"), "garbage").unwrap();
        let bootstrap = begin_life(&dir, 1, 0, StartMode::Bootstrap).unwrap();
        assert_eq!((bootstrap.number, bootstrap.recover), (1, false));
        assert_eq!(bootstrap.incarnation(), 0);
        assert_eq!(
            fs::read_to_string(dir.join("group-1-replica-0.lives")).unwrap(),
            "1\n"
        );
    }

    #[test]
    fn a_plan_that_is_not_committed_leaves_the_record_as_it_was() {
        let dir = scratch("plan");
        let record = dir.join("group-1-replica-0.lives");
        let pending = plan_life(&dir, 1, 0, StartMode::FromRecord).unwrap();
        assert_eq!(pending.life().number, 1);
        drop(pending);
        assert!(!record.exists());
        // Not even the directory is created before the commit.
        assert!(!dir.exists());

        let first = plan_life(&dir, 1, 0, StartMode::FromRecord).unwrap();
        assert!(!first.found_record());
        let (first, _) = first.commit().unwrap();
        assert_eq!((first.number, first.incarnation()), (1, 0));
        let abandoned = plan_life(&dir, 1, 0, StartMode::FromRecord).unwrap();
        assert!(abandoned.found_record());
        drop(abandoned);
        assert_eq!(fs::read_to_string(&record).unwrap(), "1\n");
        let second = begin_life(&dir, 1, 0, StartMode::FromRecord).unwrap();
        assert_eq!((second.number, second.incarnation()), (2, 1));
    }

    #[test]
    fn an_incarnation_the_protocol_raised_is_the_floor_of_the_next_start() {
        let dir = scratch("raise");
        let (life, mut record) = plan_life(&dir, 1, 0, StartMode::Rejoin)
            .unwrap()
            .commit()
            .unwrap();
        assert_eq!(life.incarnation(), 0);
        assert!(!record.raise(0).unwrap(), "nothing to raise");
        // A peer knew life 6 of this replica: it runs as 7.
        assert!(record.raise(7).unwrap());
        assert!(!record.raise(7).unwrap(), "written once");
        let next = begin_life(&dir, 1, 0, StartMode::FromRecord).unwrap();
        assert_eq!(next.incarnation(), 8);
    }

    #[test]
    fn the_incarnation_counts_earlier_starts_and_saturates() {
        let life = |number| Life {
            number,
            recover: true,
        };
        assert_eq!(life(1).incarnation(), 0);
        assert_eq!(life(5).incarnation(), 4);
        assert_eq!(life(u64::MAX - 1).incarnation(), u32::MAX);
    }
}
