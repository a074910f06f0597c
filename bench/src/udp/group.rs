//! A replica group as child processes on loopback: `riptide replica` per
//! member, on free ports, in a scratch directory with the `cluster.toml` and
//! one log file per replica.
//!
//! Children never outlive the group: dropping it kills and reaps them, and
//! each child is also told by the kernel (`PR_SET_PDEATHSIG`) to die with
//! the thread that started it, so a crashed or killed parent leaves none.

use std::fs;
use std::net::{Ipv4Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use riptide_node::status::StatusReport;
use riptide_node::{ClusterConfig, Timing};

use super::probe::GroupProbe;

/// How to start a group.
#[derive(Debug, Clone)]
pub struct GroupOptions {
    pub replicas: u8,
    pub group: u16,
    pub timing: Timing,
    /// `RUST_LOG` of the members.
    pub log_filter: String,
    /// Runs each member inside a network namespace: `ip netns exec NAME`.
    pub netns: Option<Vec<String>>,
}

impl GroupOptions {
    pub fn loopback(replicas: u8) -> GroupOptions {
        GroupOptions {
            replicas,
            group: 1,
            timing: Timing::default(),
            log_filter: "info".to_string(),
            netns: None,
        }
    }
}

/// A running group of replica processes.
pub struct ProcessGroup {
    exe: PathBuf,
    dir: PathBuf,
    config_path: PathBuf,
    options: GroupOptions,
    children: Vec<Option<Child>>,
    incarnations: Vec<u32>,
    probe: GroupProbe,
}

impl ProcessGroup {
    /// Starts `options.replicas` replicas of the `riptide` binary `exe` on
    /// free ports of 127.0.0.1.
    pub fn start(exe: &Path, options: GroupOptions) -> anyhow::Result<ProcessGroup> {
        let ports = free_ports(usize::from(options.replicas))?;
        let config =
            ClusterConfig::local(options.group, Ipv4Addr::LOCALHOST, &ports, options.timing)?;
        ProcessGroup::start_with(exe, config, options)
    }

    /// Starts every replica of `config`.
    pub fn start_with(
        exe: &Path,
        config: ClusterConfig,
        options: GroupOptions,
    ) -> anyhow::Result<ProcessGroup> {
        let dir = scratch_dir()?;
        let config_path = dir.join("cluster.toml");
        fs::write(&config_path, config.to_toml())
            .with_context(|| format!("cannot write {}", config_path.display()))?;
        let n = usize::from(config.size());
        let mut group = ProcessGroup {
            exe: exe.to_path_buf(),
            dir,
            config_path,
            options,
            children: (0..n).map(|_| None).collect(),
            incarnations: vec![0; n],
            probe: GroupProbe::new(config)?,
        };
        for id in 0..group.size() {
            group.spawn(id, &[])?;
        }
        Ok(group)
    }

    pub fn config(&self) -> &ClusterConfig {
        self.probe.config()
    }

    /// Status queries to the members.
    pub fn probe(&self) -> &GroupProbe {
        &self.probe
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    pub fn size(&self) -> u8 {
        self.probe.size()
    }

    /// Where the members keep their start records: `riptide-state` next to
    /// the config, the default.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.join("riptide-state")
    }

    fn spawn(&mut self, id: u8, extra_args: &[&str]) -> anyhow::Result<()> {
        let slot = usize::from(id);
        self.incarnations[slot] += 1;
        let log_path = self
            .dir
            .join(format!("replica-{id}.{}.log", self.incarnations[slot]));
        let log = fs::File::create(&log_path)?;
        let mut command = match &self.options.netns {
            Some(namespaces) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", &namespaces[slot]]).arg(&self.exe);
                c
            }
            None => Command::new(&self.exe),
        };
        command
            .arg("replica")
            .arg("--config")
            .arg(&self.config_path)
            .args(["--id", &id.to_string()])
            // Each incarnation its own seed, so a rejoining replica draws a
            // new recovery nonce; fixed per (id, incarnation) for replay.
            .args([
                "--seed",
                &(u64::from(id) << 32 | u64::from(self.incarnations[slot])).to_string(),
            ])
            .args(extra_args)
            .env("RUST_LOG", &self.options.log_filter)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        crate::processes::die_with_parent(&mut command);
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", self.exe.display()))?;
        self.children[slot] = Some(child);
        Ok(())
    }

    /// `kill -9` replica `id` and reap it.
    pub fn kill(&mut self, id: u8) -> anyhow::Result<()> {
        if let Some(mut child) = self.children[usize::from(id)].take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Starts replica `id` again after a kill, as an operator would: with
    /// the same command line. Its record of having run (in `riptide-state`
    /// next to the config) makes it recover from the others before it votes.
    pub fn restart(&mut self, id: u8) -> anyhow::Result<()> {
        self.restart_with(id, &[])
    }

    /// [`ProcessGroup::restart`] with more arguments (`--recover-from 2`).
    /// Waits first until the killed process's ports can be bound again: the
    /// kernel tears a killed process's io_uring down asynchronously, and the
    /// ring holds its sockets until then.
    pub fn restart_with(&mut self, id: u8, extra_args: &[&str]) -> anyhow::Result<()> {
        self.kill(id)?;
        let me = *self.config().replica(id).context("no such replica")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let peer = UdpSocket::bind(std::net::SocketAddr::from(me.peer));
            let client = UdpSocket::bind(std::net::SocketAddr::from(me.client));
            match (peer, client) {
                (Ok(_), Ok(_)) => break,
                (peer, client) if Instant::now() >= deadline => anyhow::bail!(
                    "replica {id}'s ports stay bound after its kill: {:?} {:?}",
                    peer.err(),
                    client.err()
                ),
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        self.spawn(id, extra_args)
    }

    /// Ids of the replicas whose process has exited (a crash), with how.
    pub fn exited(&mut self) -> Vec<(u8, String)> {
        let mut exited = Vec::new();
        for (id, child) in self.children.iter_mut().enumerate() {
            if let Some(child) = child
                && let Ok(Some(status)) = child.try_wait()
            {
                exited.push((id as u8, status.to_string()));
            }
        }
        exited
    }

    /// The process id of replica `id`, if it runs.
    pub fn pid(&self, id: u8) -> Option<u32> {
        self.children[usize::from(id)].as_ref().map(Child::id)
    }

    pub fn is_running(&self, id: u8) -> bool {
        self.children[usize::from(id)].is_some()
    }

    /// Replica `id`'s status, if it answers.
    pub fn status(&self, id: u8) -> Option<StatusReport> {
        self.probe.status(id)
    }

    /// Every running replica's status (the ones that answer), by id.
    pub fn statuses(&self) -> Vec<StatusReport> {
        self.probe.statuses(&|id| self.is_running(id))
    }

    /// The leader with the highest ballot among the running replicas.
    pub fn leader(&self) -> Option<StatusReport> {
        self.statuses()
            .into_iter()
            .filter(StatusReport::is_leader)
            .max_by_key(StatusReport::ballot)
    }

    /// Waits until a running replica other than `not` leads and a majority
    /// agrees on its ballot.
    pub fn wait_for_leader(&self, not: Option<u8>, timeout: Duration) -> anyhow::Result<u8> {
        let logs = format!("logs in {}", self.dir.display());
        self.probe
            .wait_for_leader(&|id| self.is_running(id), not, timeout, &logs)
    }

    /// Every log file written so far, concatenated (for a failing test's output).
    pub fn logs(&self) -> String {
        let mut paths: Vec<PathBuf> = fs::read_dir(&self.dir)
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        paths.sort();
        paths
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .map(|p| {
                let text = fs::read_to_string(p).unwrap_or_default();
                format!("== {}\n{text}", p.display())
            })
            .collect()
    }

    /// Kills every replica and reaps it.
    pub fn stop(&mut self) {
        for id in 0..self.size() {
            let _ = self.kill(id);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `count` (replica, client) port pairs free on loopback right now. Binding
/// port 0 lets the kernel choose; the sockets are closed before the children
/// bind, a window in which another process could take a port (the child then
/// fails to bind and says which address).
pub fn free_ports(count: usize) -> anyhow::Result<Vec<(u16, u16)>> {
    let sockets: Vec<UdpSocket> = (0..2 * count)
        .map(|_| UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<Result<_, _>>()?;
    let ports: Vec<u16> = sockets
        .iter()
        .map(|s| s.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()?;
    Ok(ports.chunks(2).map(|p| (p[0], p[1])).collect())
}

fn scratch_dir() -> anyhow::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "riptide-group-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    // A directory left by an earlier process with the same pid would hold
    // its replicas' records, and these would start as restarts.
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}
