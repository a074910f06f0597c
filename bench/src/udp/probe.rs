//! Asking a group's replicas how they are (`riptide status`'s query on each
//! replica's client port), wherever they run: the benchmark's own children or
//! a group someone started by hand on other hosts.

use std::net::{Ipv4Addr, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::bail;
use riptide_node::ClusterConfig;
use riptide_node::status::{StatusReport, query};

/// Status queries to the replicas of one cluster file.
pub struct GroupProbe {
    config: ClusterConfig,
    socket: UdpSocket,
}

impl GroupProbe {
    pub fn new(config: ClusterConfig) -> anyhow::Result<GroupProbe> {
        let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        socket.set_read_timeout(Some(Duration::from_millis(200)))?;
        Ok(GroupProbe { config, socket })
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    pub fn size(&self) -> u8 {
        self.config.size()
    }

    /// Replica `id`'s status, if it answers.
    pub fn status(&self, id: u8) -> Option<StatusReport> {
        let addr = self.config.replica(id)?.client;
        query(&self.socket, addr.into()).ok()
    }

    /// The statuses of the replicas `alive` admits that answer, by id.
    pub fn statuses(&self, alive: &dyn Fn(u8) -> bool) -> Vec<StatusReport> {
        (0..self.size())
            .filter(|&id| alive(id))
            .filter_map(|id| self.status(id))
            .collect()
    }

    /// Waits until a replica `alive` admits, other than `not`, leads and a
    /// majority agrees on its ballot. `where_logs` ends the error message.
    pub fn wait_for_leader(
        &self,
        alive: &dyn Fn(u8) -> bool,
        not: Option<u8>,
        timeout: Duration,
        where_logs: &str,
    ) -> anyhow::Result<u8> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            let statuses = self.statuses(alive);
            if let Some(leader) = statuses
                .iter()
                .filter(|s| s.is_leader() && Some(s.id) != not)
                .max_by_key(|s| s.ballot())
            {
                let agree = statuses
                    .iter()
                    .filter(|s| s.ballot() == leader.ballot())
                    .count();
                if agree > usize::from(self.size()) / 2 {
                    return Ok(leader.id);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!(
            "no leader within {timeout:?}; statuses: {:?}; {where_logs}",
            self.statuses(alive)
                .iter()
                .map(|s| (s.id, s.role.clone(), s.ballot_round, s.commit))
                .collect::<Vec<_>>(),
        )
    }
}
