//! Whether a replica process has run before.
//!
//! A replica keeps its log and promises in memory, so every restart is a crash
//! with amnesia, and a replica that forgot its promises must recover from the
//! others before it votes (`docs/protocol.md`, "Crash with amnesia"). Leaving
//! that to a command-line flag makes the unsafe choice the default, so the one
//! thing a replica writes to disk is a record that it has lived: a count of its
//! starts, in `<state dir>/group-<g>-replica-<id>.lives`. The first start writes
//! it and starts fresh; every later start finds it and recovers.
//!
//! The record is untrusted bytes from disk: anything but a count is an error
//! that says what to do, never a silent fresh start.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum LivesError {
    #[error("cannot create the state directory {path}: {source}")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "{path} is not a start count ({content:?}); if this replica ran before, start it with \
         --rejoin, if the whole group is new, with --bootstrap"
    )]
    Corrupt { path: PathBuf, content: String },
}

/// How a replica starts, and which start of it this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Life {
    /// 1 for the first start of this replica.
    pub number: u64,
    /// The replica ran before: it must recover before it votes.
    pub recover: bool,
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

/// Reads and advances replica `id`'s record in `state_dir`, durably, before
/// the replica sends anything: a crash right after this call still counts as
/// a life.
pub fn begin_life(
    state_dir: &Path,
    group: u16,
    id: u8,
    mode: StartMode,
) -> Result<Life, LivesError> {
    let path = state_dir.join(format!("group-{group}-replica-{id}.lives"));
    let before = match mode {
        StartMode::Bootstrap => 0,
        StartMode::FromRecord | StartMode::Rejoin => read_count(&path)?,
    };
    let number = before + 1;
    fs::create_dir_all(state_dir).map_err(|source| LivesError::CreateDir {
        path: state_dir.to_path_buf(),
        source,
    })?;
    write_durably(&path, &format!("{number}\n")).map_err(|source| LivesError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(Life {
        number,
        recover: mode == StartMode::Rejoin || (mode == StartMode::FromRecord && before > 0),
    })
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
        Ok(count) if count > 0 && count < u64::MAX => Ok(count),
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
        // The operator's word overrides a bad record.
        assert!(begin_life(&dir, 1, 0, StartMode::Bootstrap).is_ok());
    }
}
