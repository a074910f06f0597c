//! A private network for partition tests: one network namespace per replica,
//! each joined by a veth pair to a bridge in a hub namespace, where the test
//! itself runs its clients. Nothing connects to the host's own network, so
//! the addresses used inside cannot reach anything else.
//!
//! Needs root and iproute2 (`ip`). Everything made is removed on drop.

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::Command;

use anyhow::{Context, bail};

/// The lab's subnet: addresses exist only inside the lab's namespaces.
const SUBNET: [u8; 3] = [10, 201, 0];
const HUB_HOST: u8 = 254;

/// The namespaces, bridge and links of one lab.
pub struct Lab {
    hub: String,
    nodes: Vec<String>,
}

impl Lab {
    /// A hub namespace with a bridge, and `n` node namespaces on it at
    /// `10.201.0.1`, `.2`, … Names carry this process's id, so concurrent
    /// runs do not collide.
    pub fn create(n: u8) -> anyhow::Result<Lab> {
        let prefix = format!("rt{}", std::process::id());
        let mut lab = Lab {
            hub: format!("{prefix}-hub"),
            nodes: Vec::new(),
        };
        ip(&["netns", "add", &lab.hub])?;
        ip(&["-n", &lab.hub, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &lab.hub, "link", "set", "br0", "up"])?;
        ip(&["-n", &lab.hub, "link", "set", "lo", "up"])?;
        let hub_ip = format!("{}/24", Lab::address(HUB_HOST));
        ip(&["-n", &lab.hub, "addr", "add", &hub_ip, "dev", "br0"])?;
        for i in 0..n {
            let node = format!("{prefix}-r{i}");
            ip(&["netns", "add", &node])?;
            lab.nodes.push(node.clone());
            let (inside, outside) = (format!("v{i}a"), format!("v{i}b"));
            ip(&[
                "link", "add", &inside, "netns", &node, "type", "veth", "peer", "name", &outside,
                "netns", &lab.hub,
            ])?;
            ip(&["-n", &lab.hub, "link", "set", &outside, "master", "br0"])?;
            ip(&["-n", &lab.hub, "link", "set", &outside, "up"])?;
            let addr = format!("{}/24", lab.ip(i));
            ip(&["-n", &node, "addr", "add", &addr, "dev", &inside])?;
            ip(&["-n", &node, "link", "set", &inside, "up"])?;
            ip(&["-n", &node, "link", "set", "lo", "up"])?;
        }
        Ok(lab)
    }

    fn address(host: u8) -> Ipv4Addr {
        Ipv4Addr::new(SUBNET[0], SUBNET[1], SUBNET[2], host)
    }

    /// Node `i`'s address.
    pub fn ip(&self, i: u8) -> Ipv4Addr {
        Lab::address(i + 1)
    }

    /// Node namespaces' names, by node.
    pub fn namespaces(&self) -> Vec<String> {
        self.nodes.clone()
    }

    /// Cuts node `i` off from everyone (its link goes down).
    pub fn isolate(&self, i: u8) -> anyhow::Result<()> {
        let link = format!("v{i}a");
        ip(&[
            "-n",
            &self.nodes[usize::from(i)],
            "link",
            "set",
            &link,
            "down",
        ])
    }

    /// Connects node `i` again.
    pub fn heal(&self, i: u8) -> anyhow::Result<()> {
        let link = format!("v{i}a");
        ip(&[
            "-n",
            &self.nodes[usize::from(i)],
            "link",
            "set",
            &link,
            "up",
        ])
    }

    /// Moves the calling thread into the hub namespace: sockets it opens and
    /// threads and processes it starts afterwards live there.
    pub fn enter_hub(&self) -> anyhow::Result<()> {
        let path = format!("/var/run/netns/{}", self.hub);
        let ns = File::open(&path).with_context(|| format!("cannot open {path}"))?;
        // SAFETY: a valid namespace fd; setns affects only the calling thread.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            bail!(
                "setns into {}: {}",
                self.hub,
                std::io::Error::last_os_error()
            );
        }
        Ok(())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace deletes its links, and so both ends of each pair.
        for ns in self.nodes.iter().chain([&self.hub]) {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .context("cannot run `ip` (install iproute2; partition tests need root)")?;
    if !output.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
