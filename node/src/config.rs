//! `cluster.toml`: the group's membership, addresses and timing, shared by
//! every replica process, client and benchmark of one group.
//!
//! A config file is untrusted input: [`ClusterConfig::parse`] rejects anything
//! it cannot run with, and every error names the field (`replica[1].address`)
//! so the operator knows what to fix. `docs/runtime.md` shows an example.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::Path;

use riptide_control::ReplicaConfig;
use riptide_wire::frame::Endpoint;
use riptide_wire::regs::MAX_REPLICAS;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a `cluster.toml` was rejected.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// TOML syntax, a missing or unknown field, or a value of the wrong type;
    /// the message (from the TOML parser) names the field and its line.
    #[error("{0}")]
    Syntax(String),
    /// A value that parses but cannot be run with.
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
}

impl ConfigError {
    fn invalid(field: impl Into<String>, problem: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// The file as written, before validation.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    group: u16,
    #[serde(default)]
    timing: Timing,
    replica: Vec<RawReplica>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawReplica {
    id: u8,
    address: String,
    client_port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mac: Option<String>,
}

/// How fast the protocol's logical clock runs: every replica of a group
/// should use the same values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timing {
    /// Length of one tick of the control plane's logical clock.
    pub tick_ms: u64,
    pub heartbeat_ticks: u64,
    /// The election timeout is drawn uniformly from `[lo, hi]` ticks.
    pub election_ticks: [u64; 2],
    pub retransmit_ticks: u64,
    /// Most slots the leader keeps in flight.
    pub window: u64,
    /// Most slots the leader fills before writes share one: below `window`,
    /// writes that arrive while this many are in flight wait and go out
    /// together in the next slot (`docs/runtime.md`, "Batching").
    pub max_inflight: u64,
}

impl Default for Timing {
    /// 10 ms ticks: heartbeats every 50 ms, elections after 300 to 600 ms of
    /// silence, retransmission after 100 ms without commit progress.
    fn default() -> Timing {
        Timing {
            tick_ms: 10,
            heartbeat_ticks: 5,
            election_ticks: [30, 60],
            retransmit_ticks: 10,
            window: 64,
            max_inflight: riptide_control::DEFAULT_MAX_INFLIGHT,
        }
    }
}

/// One replica's addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaAddr {
    pub id: u8,
    /// Where its NIC (the software fast path: a UDP socket) receives
    /// replica-to-replica datagrams.
    pub peer: SocketAddrV4,
    /// Where it answers clients (and status requests).
    pub client: SocketAddrV4,
    /// The board's MAC address, for `--nic vfio:…`; the software fast path
    /// does not need it.
    pub mac: Option<[u8; 6]>,
}

impl ReplicaAddr {
    /// The replica's NIC as frames address it. Without a configured MAC, a
    /// locally administered one ending in the id stands in (the software fast
    /// path never puts it on a wire).
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            mac: self.mac.unwrap_or([0x02, 0x52, 0x54, 0x00, 0x00, self.id]),
            ip: self.peer.ip().octets(),
            port: self.peer.port(),
        }
    }
}

/// A validated group configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    pub group: u16,
    pub timing: Timing,
    /// Indexed by replica id.
    pub replicas: Vec<ReplicaAddr>,
}

impl ClusterConfig {
    pub fn load(path: &Path) -> Result<ClusterConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        ClusterConfig::parse(&text)
    }

    pub fn parse(text: &str) -> Result<ClusterConfig, ConfigError> {
        let raw: RawConfig =
            toml::from_str(text).map_err(|error| ConfigError::Syntax(error.to_string()))?;
        validate(raw)
    }

    /// A group of replicas on `ip`, at the given (peer, client) ports.
    pub fn local(
        group: u16,
        ip: Ipv4Addr,
        ports: &[(u16, u16)],
        timing: Timing,
    ) -> Result<ClusterConfig, ConfigError> {
        let addresses: Vec<(SocketAddrV4, u16)> = ports
            .iter()
            .map(|&(peer, client)| (SocketAddrV4::new(ip, peer), client))
            .collect();
        ClusterConfig::from_addresses(group, &addresses, timing)
    }

    /// A group whose replica `i` listens at `addresses[i]`: (replica address,
    /// client port).
    pub fn from_addresses(
        group: u16,
        addresses: &[(SocketAddrV4, u16)],
        timing: Timing,
    ) -> Result<ClusterConfig, ConfigError> {
        validate(RawConfig {
            group,
            timing,
            replica: addresses
                .iter()
                .enumerate()
                .map(|(id, &(peer, client))| RawReplica {
                    id: u8::try_from(id).unwrap_or(u8::MAX),
                    address: peer.to_string(),
                    client_port: client,
                    mac: None,
                })
                .collect(),
        })
    }

    /// The file form, which [`ClusterConfig::parse`] reads back unchanged.
    pub fn to_toml(&self) -> String {
        let raw = RawConfig {
            group: self.group,
            timing: self.timing,
            replica: self
                .replicas
                .iter()
                .map(|r| RawReplica {
                    id: r.id,
                    address: r.peer.to_string(),
                    client_port: r.client.port(),
                    mac: r.mac.map(format_mac),
                })
                .collect(),
        };
        toml::to_string(&raw).expect("a validated config serializes")
    }

    pub fn size(&self) -> u8 {
        // Validation bounds the group by MAX_REPLICAS.
        self.replicas.len() as u8
    }

    pub fn replica(&self, id: u8) -> Option<&ReplicaAddr> {
        self.replicas.get(usize::from(id))
    }

    /// Every replica's NIC address, indexed by id.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.replicas.iter().map(ReplicaAddr::endpoint).collect()
    }

    pub fn client_addrs(&self) -> Vec<SocketAddr> {
        self.replicas
            .iter()
            .map(|r| SocketAddr::V4(r.client))
            .collect()
    }

    /// The control plane's configuration for replica `id`.
    pub fn replica_config(&self, id: u8, seed: u64) -> ReplicaConfig {
        let t = &self.timing;
        let mut cfg = ReplicaConfig::new(id, self.size(), self.group, seed);
        cfg.heartbeat_ticks = t.heartbeat_ticks;
        cfg.election_ticks = (t.election_ticks[0], t.election_ticks[1]);
        cfg.retransmit_ticks = t.retransmit_ticks;
        cfg.window = t.window;
        cfg.max_inflight = t.max_inflight;
        cfg
    }
}

fn validate(raw: RawConfig) -> Result<ClusterConfig, ConfigError> {
    let timing = validate_timing(raw.timing)?;
    let n = raw.replica.len();
    if n == 0 {
        return Err(ConfigError::invalid("replica", "no replicas are listed"));
    }
    if n.is_multiple_of(2) || n > MAX_REPLICAS {
        return Err(ConfigError::invalid(
            "replica",
            format!("{n} replicas: a group needs an odd number (2f+1) of at most {MAX_REPLICAS}"),
        ));
    }
    let mut by_id: BTreeMap<u8, ReplicaAddr> = BTreeMap::new();
    for (index, r) in raw.replica.iter().enumerate() {
        let field = |name: &str| format!("replica[{index}].{name}");
        if let Some(first) = raw.replica[..index].iter().position(|o| o.id == r.id) {
            return Err(ConfigError::invalid(
                field("id"),
                format!("duplicate id {} (also replica[{first}].id)", r.id),
            ));
        }
        if usize::from(r.id) >= n {
            return Err(ConfigError::invalid(
                field("id"),
                format!(
                    "id {} out of range: {n} replicas have ids {}",
                    r.id,
                    id_list(n)
                ),
            ));
        }
        let peer: SocketAddrV4 = r.address.parse().map_err(|_| {
            ConfigError::invalid(
                field("address"),
                format!(
                    "{:?} is not an IPv4 address with a port (like \"127.0.0.1:7100\")",
                    r.address
                ),
            )
        })?;
        if let Some(problem) = unusable_ip(*peer.ip()) {
            return Err(ConfigError::invalid(
                field("address"),
                format!("{peer}: {problem}"),
            ));
        }
        if peer.port() == 0 {
            return Err(ConfigError::invalid(
                field("address"),
                "port 0 is not a port to listen on",
            ));
        }
        if r.client_port == 0 {
            return Err(ConfigError::invalid(
                field("client_port"),
                "port 0 is not a port to listen on",
            ));
        }
        let mac = r
            .mac
            .as_deref()
            .map(|text| {
                parse_mac(text).ok_or_else(|| {
                    ConfigError::invalid(
                        field("mac"),
                        format!("{text:?} is not a MAC address (like \"02:52:54:00:00:01\")"),
                    )
                })
            })
            .transpose()?;
        if let Some(mac) = mac {
            if let Some(problem) = unusable_mac(mac) {
                return Err(ConfigError::invalid(
                    field("mac"),
                    format!("{}: {problem}", format_mac(mac)),
                ));
            }
            if let Some(other) = raw.replica[..index]
                .iter()
                .position(|o| o.mac.as_deref().and_then(parse_mac) == Some(mac))
            {
                return Err(ConfigError::invalid(
                    field("mac"),
                    format!(
                        "{} is already replica[{other}].mac: frames for one would reach the other",
                        format_mac(mac)
                    ),
                ));
            }
        }
        by_id.insert(
            r.id,
            ReplicaAddr {
                id: r.id,
                peer,
                client: SocketAddrV4::new(*peer.ip(), r.client_port),
                mac,
            },
        );
    }
    let replicas: Vec<ReplicaAddr> = by_id.into_values().collect();
    check_ports_distinct(&raw.replica, &replicas)?;
    Ok(ClusterConfig {
        group: raw.group,
        timing,
        replicas,
    })
}

/// No two sockets of the group may share an address: a replica could not bind.
fn check_ports_distinct(raw: &[RawReplica], replicas: &[ReplicaAddr]) -> Result<(), ConfigError> {
    let mut seen: BTreeMap<SocketAddrV4, String> = BTreeMap::new();
    for (index, r) in raw.iter().enumerate() {
        let addr = replicas[usize::from(r.id)];
        for (name, socket) in [("address", addr.peer), ("client_port", addr.client)] {
            let field = format!("replica[{index}].{name}");
            if let Some(other) = seen.insert(socket, field.clone()) {
                return Err(ConfigError::invalid(
                    field,
                    format!("{socket} is already used by {other}"),
                ));
            }
        }
    }
    Ok(())
}

/// Longest tick: a second. Elections take tens of ticks, so longer ticks
/// mean a group that stays without a leader for minutes.
pub const MAX_TICK_MS: u64 = 1_000;

/// Most ticks any timeout may last: with 1 ms ticks, a little over 16
/// minutes. It keeps every sum and product of tick counts far from
/// wrapping.
pub const MAX_TICKS: u64 = 1_000_000;

fn validate_timing(t: Timing) -> Result<Timing, ConfigError> {
    let [lo, hi] = t.election_ticks;
    let ticks = |n: u64| (1..=MAX_TICKS).contains(&n);
    let in_range = format!("must be 1 to {MAX_TICKS} ticks");
    let problems = [
        (
            !(1..=MAX_TICK_MS).contains(&t.tick_ms),
            "timing.tick_ms",
            format!("must be 1 to {MAX_TICK_MS} (ms)"),
        ),
        (
            !ticks(t.heartbeat_ticks),
            "timing.heartbeat_ticks",
            in_range.clone(),
        ),
        (
            !ticks(lo) || !ticks(hi),
            "timing.election_ticks",
            format!("both bounds {in_range}"),
        ),
        (
            lo > hi,
            "timing.election_ticks",
            "must be [lo, hi] with lo <= hi".to_string(),
        ),
        (
            // Every condition is evaluated, out-of-range values included:
            // saturating, so `2 * heartbeat_ticks` cannot wrap into a pass.
            lo <= t.heartbeat_ticks.saturating_mul(2),
            "timing.election_ticks",
            "the lower bound must exceed two heartbeat intervals (timing.heartbeat_ticks), \
             or followers start elections while the leader is healthy"
                .to_string(),
        ),
        (
            !ticks(t.retransmit_ticks),
            "timing.retransmit_ticks",
            in_range.clone(),
        ),
        (
            t.window == 0 || t.window > 0xFFFF,
            "timing.window",
            "must be 1 to 65535 (the NIC's window register has 16 bits)".to_string(),
        ),
        (
            t.max_inflight == 0,
            "timing.max_inflight",
            "must be at least 1 (above timing.window, the window is the limit)".to_string(),
        ),
    ];
    match problems.into_iter().find(|(bad, ..)| *bad) {
        Some((_, field, problem)) => Err(ConfigError::invalid(field, problem)),
        None => Ok(t),
    }
}

/// "0, 1, 2": the ids of a group of `n`, as people read them (`0..3` reads
/// as if it included 3).
pub fn id_list(n: usize) -> String {
    (0..n)
        .map(|id| id.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why others cannot send to `ip`, if they cannot. A replica's address is
/// where its peers and clients send, not only where it listens: the
/// wildcard `0.0.0.0` names no host (and would share its port with every
/// address of the machine), and a multicast or broadcast address is not
/// one replica.
fn unusable_ip(ip: Ipv4Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        Some("0.0.0.0 is not an address others can send to; give the address of the replica's host")
    } else if ip.is_multicast() {
        Some("a multicast address is not one replica's address")
    } else if ip.is_broadcast() {
        Some("the broadcast address is not one replica's address")
    } else {
        None
    }
}

/// Why `mac` cannot be a board's own address, if it cannot: frames are
/// addressed to it one replica at a time.
fn unusable_mac(mac: [u8; 6]) -> Option<&'static str> {
    if mac == [0; 6] {
        Some("the all-zero MAC is no NIC's address")
    } else if mac[0] & 1 == 1 {
        Some("a multicast MAC (lowest bit of the first byte set) is no NIC's address")
    } else {
        None
    }
}

fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

fn format_mac(mac: [u8; 6]) -> String {
    mac.map(|b| format!("{b:02x}")).join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
group = 7

[timing]
tick_ms = 5
heartbeat_ticks = 4
election_ticks = [20, 40]
retransmit_ticks = 8
window = 32
max_inflight = 8

[[replica]]
id = 0
address = "127.0.0.1:7100"
client_port = 7200

[[replica]]
id = 2
address = "127.0.0.1:7102"
client_port = 7202
mac = "02:52:54:00:00:02"

[[replica]]
id = 1
address = "127.0.0.1:7101"
client_port = 7201
"#;

    fn rejected(text: &str) -> String {
        ClusterConfig::parse(text)
            .expect_err("the config must be rejected")
            .to_string()
    }

    #[test]
    fn parses_a_good_config_and_orders_replicas_by_id() {
        let cfg = ClusterConfig::parse(GOOD).unwrap();
        assert_eq!(cfg.group, 7);
        assert_eq!(cfg.size(), 3);
        assert_eq!(cfg.timing.election_ticks, [20, 40]);
        let ids: Vec<u8> = cfg.replicas.iter().map(|r| r.id).collect();
        assert_eq!(ids, [0, 1, 2]);
        assert_eq!(cfg.replicas[2].client.to_string(), "127.0.0.1:7202");
        assert_eq!(cfg.replicas[2].mac, Some([2, 0x52, 0x54, 0, 0, 2]));
        assert_eq!(cfg.replicas[1].endpoint().port, 7101);
        let rc = cfg.replica_config(1, 9);
        assert_eq!(
            (rc.id, rc.replicas, rc.group, rc.window, rc.max_inflight),
            (1, 3, 7, 32, 8)
        );
        assert_eq!(rc.election_ticks, (20, 40));
    }

    #[test]
    fn round_trips_through_toml() {
        let cfg = ClusterConfig::parse(GOOD).unwrap();
        assert_eq!(ClusterConfig::parse(&cfg.to_toml()).unwrap(), cfg);
    }

    #[test]
    fn timing_defaults_when_absent() {
        let text = GOOD.replace("[timing]", "[unused]");
        let text: String = text
            .lines()
            .filter(|l| {
                !l.contains("_ticks")
                    && !l.contains("tick_ms")
                    && !l.contains("window")
                    && !l.contains("max_inflight")
                    && *l != "[unused]"
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(
            ClusterConfig::parse(&text).unwrap().timing,
            Timing::default()
        );
    }

    #[test]
    fn a_missing_field_is_named() {
        let text = GOOD.replacen("address = \"127.0.0.1:7101\"\n", "", 1);
        assert!(rejected(&text).contains("address"), "{}", rejected(&text));
        let text = GOOD.replacen("group = 7\n", "", 1);
        assert!(rejected(&text).contains("group"));
    }

    #[test]
    fn an_unknown_field_is_named() {
        let text = GOOD.replacen("client_port = 7200", "client_port = 7200\nport = 1", 1);
        assert!(rejected(&text).contains("port"), "{}", rejected(&text));
    }

    #[test]
    fn a_duplicate_id_is_named() {
        let text = GOOD.replacen("id = 1", "id = 0", 1);
        let message = rejected(&text);
        assert!(
            message.starts_with("replica[2].id: duplicate id 0"),
            "{message}"
        );
    }

    #[test]
    fn a_bad_address_is_named() {
        for bad in [
            "127.0.0.1",
            "localhost:7101",
            "[::1]:7101",
            "127.0.0.1:0",
            "1.2.3:4",
        ] {
            let text = GOOD.replacen("127.0.0.1:7101", bad, 1);
            let message = rejected(&text);
            assert!(
                message.starts_with("replica[2].address:"),
                "{bad}: {message}"
            );
        }
    }

    #[test]
    fn ids_must_be_zero_to_n() {
        let text = GOOD.replacen("id = 2", "id = 3", 1);
        let message = rejected(&text);
        assert!(
            message.starts_with("replica[1].id: id 3 out of range"),
            "{message}"
        );
    }

    #[test]
    fn the_group_size_must_be_odd() {
        let end = GOOD.find("[[replica]]\nid = 1").unwrap();
        let message = rejected(&GOOD[..end]);
        assert!(message.starts_with("replica: 2 replicas"), "{message}");
        let message = rejected("group = 1\nreplica = []\n");
        assert!(message.starts_with("replica: no replicas"), "{message}");
    }

    #[test]
    fn shared_ports_are_named() {
        let text = GOOD.replacen("client_port = 7201", "client_port = 7100", 1);
        let message = rejected(&text);
        assert!(
            message.starts_with(
                "replica[2].client_port: 127.0.0.1:7100 is already used by replica[0].address"
            ),
            "{message}"
        );
    }

    #[test]
    fn an_address_others_cannot_send_to_is_named() {
        for (bad, says) in [
            (
                "0.0.0.0:7101",
                "0.0.0.0 is not an address others can send to",
            ),
            ("239.1.2.3:7101", "multicast"),
            ("255.255.255.255:7101", "broadcast"),
        ] {
            let message = rejected(&GOOD.replacen("127.0.0.1:7101", bad, 1));
            assert!(
                message.starts_with("replica[2].address:") && message.contains(says),
                "{bad}: {message}"
            );
        }
        // The wildcard beside a host address on the same port: the second
        // replica could never bind.
        let message = rejected(&GOOD.replacen("127.0.0.1:7101", "0.0.0.0:7100", 1));
        assert!(message.starts_with("replica[2].address:"), "{message}");
    }

    #[test]
    fn duplicate_multicast_and_zero_macs_are_named() {
        let with_mac = GOOD.replacen(
            "client_port = 7200\n",
            "client_port = 7200\nmac = \"02:52:54:00:00:02\"\n",
            1,
        );
        let message = rejected(&with_mac);
        assert!(
            message.starts_with("replica[1].mac: 02:52:54:00:00:02 is already replica[0].mac"),
            "{message}"
        );
        for (mac, says) in [
            ("01:00:5e:00:00:01", "multicast"),
            ("ff:ff:ff:ff:ff:ff", "multicast"),
            ("00:00:00:00:00:00", "all-zero"),
        ] {
            let message = rejected(&GOOD.replacen("02:52:54:00:00:02", mac, 1));
            assert!(
                message.starts_with("replica[1].mac:") && message.contains(says),
                "{mac}: {message}"
            );
        }
    }

    #[test]
    fn ids_out_of_range_are_listed_one_by_one() {
        let message = rejected(&GOOD.replacen("id = 2", "id = 3", 1));
        assert!(
            message.ends_with("3 replicas have ids 0, 1, 2"),
            "{message}"
        );
        assert_eq!(id_list(1), "0");
    }

    #[test]
    fn a_bad_mac_is_named() {
        let text = GOOD.replacen("02:52:54:00:00:02", "02:52:54:00:00", 1);
        assert!(rejected(&text).starts_with("replica[1].mac:"));
    }

    #[test]
    fn bad_timing_is_named() {
        let cases = [
            ("tick_ms = 5", "tick_ms = 0", "timing.tick_ms"),
            (
                "election_ticks = [20, 40]",
                "election_ticks = [40, 20]",
                "timing.election_ticks",
            ),
            (
                "election_ticks = [20, 40]",
                "election_ticks = [8, 40]",
                "timing.election_ticks",
            ),
            ("window = 32", "window = 70000", "timing.window"),
            (
                "max_inflight = 8",
                "max_inflight = 0",
                "timing.max_inflight",
            ),
            (
                "retransmit_ticks = 8",
                "retransmit_ticks = 0",
                "timing.retransmit_ticks",
            ),
            // A tick so long the replica never ticks.
            (
                "tick_ms = 5",
                "tick_ms = 18446744073709551615",
                "timing.tick_ms",
            ),
            // 2 * heartbeat_ticks would wrap to 2 and pass `lo > 2 * hb`.
            (
                "heartbeat_ticks = 4",
                "heartbeat_ticks = 9223372036854775809",
                "timing.heartbeat_ticks",
            ),
            (
                "election_ticks = [20, 40]",
                "election_ticks = [20, 18446744073709551615]",
                "timing.election_ticks",
            ),
            (
                "retransmit_ticks = 8",
                "retransmit_ticks = 18446744073709551615",
                "timing.retransmit_ticks",
            ),
        ];
        for (from, to, field) in cases {
            let message = rejected(&GOOD.replacen(from, to, 1));
            assert!(message.starts_with(field), "{to}: {message}");
        }
    }

    #[test]
    fn local_groups_validate() {
        let cfg = ClusterConfig::local(
            3,
            Ipv4Addr::LOCALHOST,
            &[(9000, 9001), (9002, 9003), (9004, 9005)],
            Timing::default(),
        )
        .unwrap();
        assert_eq!(cfg.client_addrs()[1].to_string(), "127.0.0.1:9003");
        assert!(
            ClusterConfig::local(3, Ipv4Addr::LOCALHOST, &[(9000, 9000)], Timing::default())
                .is_err()
        );
    }
}
