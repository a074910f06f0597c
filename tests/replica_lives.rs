//! Start records and `--bootstrap` with replica processes: a start that
//! fails leaves no record, each start's incarnation counts the earlier ones,
//! a bootstrap into a live group is refused, a replica that lost its state
//! recovers and loses nothing, and more than f restarted replicas are told
//! the way out that keeps what the survivors hold.

use std::fs;
use std::net::{Ipv4Addr, UdpSocket};
use std::ops::ControlFlow::{Break, Continue};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use riptide_bench::udp::group::{GroupOptions, ProcessGroup, free_ports};
use riptide_control::Role;
use riptide_control::kv::Reply;
use riptide_node::client::{Client, ClientOptions, fresh_client_id};
use riptide_node::status::role_name;
use riptide_node::{ClusterConfig, Timing};

mod common;
use common::{Scratch, riptide, stderr, stdout};

/// The tests take ports from `free_ports`, which leaves them free until a
/// replica binds them; run side by side, one test's sockets (the status
/// socket, the bootstrap probe) can take the other's ports in that window.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A group of three on free loopback ports, written to `cluster.toml` in a
/// scratch directory; returns the directory, the ports, the file and the
/// state directory replica 0 is started with.
fn local_group(name: &str, group: u16) -> (Scratch, Vec<(u16, u16)>, PathBuf, PathBuf) {
    let dir = Scratch::new(name);
    let ports = free_ports(3).unwrap();
    let config =
        ClusterConfig::local(group, Ipv4Addr::LOCALHOST, &ports, Timing::default()).unwrap();
    let config_path = PathBuf::from(dir.write("cluster.toml", &config.to_toml()));
    let state = dir.join("state");
    (dir, ports, config_path, state)
}

fn replica_command(config: &Path, id: u8, state: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_riptide"));
    command
        .arg("replica")
        .arg("--config")
        .arg(config)
        .args(["--id", &id.to_string()])
        .arg("--state-dir")
        .arg(state)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

/// Waits until replica 0's ports can be bound. A killed replica's sockets
/// stay bound for a moment after it is reaped: the kernel tears its io_uring
/// down asynchronously, and the ring holds the sockets until then.
fn wait_for_ports(config: &ClusterConfig) {
    let me = config.replica(0).unwrap();
    common::wait_until(
        Instant::now() + Duration::from_secs(10),
        Duration::from_millis(10),
        || {
            let peer = UdpSocket::bind(std::net::SocketAddr::from(me.peer));
            let client = UdpSocket::bind(std::net::SocketAddr::from(me.client));
            match (peer, client) {
                (Ok(_), Ok(_)) => Break(()),
                (peer, client) => Continue(format!("{:?} {:?}", peer.err(), client.err())),
            }
        },
        |seen| format!("replica 0's ports stay bound: {seen}"),
    );
}

/// Starts replica 0 with its log in `log`, waits for its "replica started"
/// line, kills it, and returns that line.
fn start_and_kill(config: &Path, state: &Path, log: &Path, args: &[&str]) -> String {
    wait_for_ports(&ClusterConfig::load(config).unwrap());
    let mut child: Child = replica_command(config, 0, state)
        .args(args)
        .stderr(fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let line = common::wait_until(
        Instant::now() + Duration::from_secs(10),
        Duration::from_millis(20),
        || {
            let text = fs::read_to_string(log).unwrap_or_default();
            match text.lines().find(|l| l.contains("replica started")) {
                Some(line) => Break(line.to_string()),
                None => Continue(text),
            }
        },
        |text| format!("replica 0 did not start ({}): {text}", log.display()),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    line
}

#[test]
fn a_start_that_cannot_bind_leaves_no_record_and_each_start_counts_the_earlier_ones() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (dir, ports, config_path, state) = local_group("bind", 4);
    let record = state.join("group-4-replica-0.lives");

    // Another process holds replica 0's client port.
    let squatter = UdpSocket::bind((Ipv4Addr::LOCALHOST, ports[0].1)).unwrap();
    let output = replica_command(&config_path, 0, &state)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot bind the client address"),
        "{stderr}"
    );
    assert!(
        !record.exists(),
        "a failed start wrote {}",
        record.display()
    );
    drop(squatter);

    // So the next start is the first: fresh, incarnation 0.
    let first = start_and_kill(&config_path, &state, &dir.join("first.log"), &[]);
    for field in ["life=1", "incarnation=0", "rejoin=false"] {
        assert!(first.contains(field), "{field} not in {first}");
    }
    assert_eq!(fs::read_to_string(&record).unwrap(), "1\n");

    // And the one after it a restart: incarnation 1, recovering first.
    let second = start_and_kill(&config_path, &state, &dir.join("second.log"), &[]);
    for field in ["life=2", "incarnation=1", "rejoin=true"] {
        assert!(second.contains(field), "{field} not in {second}");
    }
    assert_eq!(fs::read_to_string(&record).unwrap(), "2\n");
}

#[test]
fn bootstrap_is_refused_while_the_group_is_live() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut group = ProcessGroup::start(
        env!("CARGO_BIN_EXE_riptide").as_ref(),
        GroupOptions::loopback(3),
    )
    .expect("group starts");
    group
        .wait_for_leader(None, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{e}\n{}", group.logs()));
    // A group that committed something has run: its replicas hold votes
    // and values a fresh replica would ignore.
    put_keys(&group, 1);
    group.kill(0).unwrap();

    let state = Scratch::new("bootstrap");
    let started = Instant::now();
    let output = replica_command(group.config_path(), 0, &state)
        .arg("--bootstrap")
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("so the group has run") && stderr.contains("without --bootstrap"),
        "{stderr}"
    );
    // Refused before it bound anything or wrote a record.
    assert!(!state.join("group-1-replica-0.lives").exists());
    assert!(started.elapsed() < Duration::from_secs(5));

    // With the whole group down, the same start is a new group's first.
    group.stop();
    let line = start_and_kill(
        group.config_path(),
        &state,
        &state.join("bootstrap.log"),
        &["--bootstrap"],
    );
    for field in ["life=1", "incarnation=0", "rejoin=false"] {
        assert!(line.contains(field), "{field} not in {line}");
    }
}

#[test]
fn a_replica_recovering_alone_says_what_to_do_and_status_shows_recovering() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (dir, _, config_path, state) = local_group("alone", 5);
    fs::create_dir_all(&state).unwrap();
    // It ran before, and none of the others is up: the whole group restarted.
    fs::write(state.join("group-5-replica-0.lives"), "3\n").unwrap();
    let log = dir.join("replica.log");
    let mut child = replica_command(&config_path, 0, &state)
        .stderr(fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();

    let warning = common::wait_until(
        Instant::now() + Duration::from_secs(20),
        Duration::from_millis(100),
        || {
            let text = fs::read_to_string(&log).unwrap_or_default();
            match text.lines().find(|l| l.contains("still recovering")) {
                Some(line) => Break(line.to_string()),
                None => Continue(text),
            }
        },
        |text| format!("no warning about the recovery: {text}"),
    );
    assert!(
        warning.contains("no other replica answers")
            && warning.contains("--bootstrap")
            && warning.contains("missing replicas"),
        "{warning}"
    );
    let status = riptide(&[
        "status",
        "--config",
        config_path.to_str().unwrap(),
        "--id",
        "0",
    ]);
    let stdout = stdout(&status);
    assert!(stdout.contains("recovering"), "{stdout}");
    child.kill().unwrap();
    child.wait().unwrap();
    let text = fs::read_to_string(&log).unwrap();
    assert_eq!(text.matches("still recovering").count(), 1, "{text}");
    assert!(text.contains("incarnation=3"), "{text}");
}

/// Fast failure detection, so that elections after a kill take tenths of a
/// second.
fn fast_group() -> ProcessGroup {
    let mut options = GroupOptions::loopback(3);
    options.timing = Timing {
        tick_ms: 2,
        heartbeat_ticks: 5,
        election_ticks: [40, 80],
        retransmit_ticks: 10,
        window: 64,
        ..Timing::default()
    };
    let group =
        ProcessGroup::start(env!("CARGO_BIN_EXE_riptide").as_ref(), options).expect("group starts");
    group
        .wait_for_leader(None, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{e}\n{}", group.logs()));
    group
}

/// A client with an id of its own: a session's request numbers go on from
/// where the last client of that id left them.
fn client(group: &ProcessGroup) -> Client {
    let options = ClientOptions {
        attempt_timeout: Duration::from_millis(100),
        deadline: Duration::from_secs(10),
    };
    Client::new(group.config(), fresh_client_id(), options).unwrap()
}

/// Puts `k0..kN` = `v0..vN`, each acknowledged.
fn put_keys(group: &ProcessGroup, n: usize) {
    let mut client = client(group);
    for i in 0..n {
        let reply = client
            .put(&format!("k{i}"), &format!("v{i}"))
            .unwrap_or_else(|e| panic!("put k{i}: {e}\n{}", group.logs()));
        assert_eq!(reply, Reply::Done);
    }
}

/// Reads `k0..kN` back and asserts each holds what [`put_keys`] wrote.
fn assert_keys(group: &ProcessGroup, n: usize) {
    let mut client = client(group);
    for i in 0..n {
        let reply = client
            .get(&format!("k{i}"))
            .unwrap_or_else(|e| panic!("get k{i}: {e}\n{}", group.logs()));
        assert_eq!(
            reply,
            Reply::Value(Some(format!("v{i}"))),
            "k{i}\n{}",
            group.logs()
        );
    }
}

/// Waits until replica `id` serves as a follower and has applied everything
/// the leader had committed when the wait began.
fn wait_caught_up(group: &ProcessGroup, id: u8, within: Duration) {
    let target = group.leader().map_or(0, |leader| leader.commit);
    common::wait_until(
        Instant::now() + within,
        Duration::from_millis(20),
        || match group.status(id) {
            Some(s) if s.role != role_name(Role::Recovering) && s.applied >= target => Break(()),
            other => Continue(format!("{other:?}")),
        },
        |seen| {
            format!(
                "replica {id} did not catch up to {target}: {seen}\n{}",
                group.logs()
            )
        },
    );
}

fn ids_other_than(excluded: &[u8]) -> Vec<u8> {
    (0..3).filter(|id| !excluded.contains(id)).collect()
}

#[test]
fn a_replica_restarted_with_its_state_deleted_recovers_and_loses_no_acknowledged_write() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut group = fast_group();
    const KEYS: usize = 20;
    put_keys(&group, KEYS);
    let leader = group.leader().expect("a leader").id;
    let lost = ids_other_than(&[leader])[0];

    // The replicas of this test share one state directory; the lost
    // replica's part of it is its record.
    group.kill(lost).unwrap();
    let record = group
        .state_dir()
        .join(format!("group-1-replica-{lost}.lives"));
    fs::remove_file(&record).unwrap();
    group.restart(lost).unwrap();
    wait_caught_up(&group, lost, Duration::from_secs(20));
    let logs = group.logs();
    assert!(
        logs.contains("no start record, and a peer shows the group has run"),
        "{logs}"
    );
    assert!(record.exists(), "the recovered replica has a record again");

    // Now the old leader goes: the new majority is the replica that lost
    // its state and one other, and every acknowledged write must be there.
    group.kill(leader).unwrap();
    group
        .wait_for_leader(Some(leader), Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{e}\n{}", group.logs()));
    assert_keys(&group, KEYS);
    group.stop();
}

#[test]
fn more_than_f_restarted_replicas_are_told_the_way_out_and_it_keeps_the_survivors_writes() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut group = fast_group();
    const KEYS: usize = 20;
    put_keys(&group, KEYS);
    let survivor = group.leader().expect("a leader").id;
    let [first, second] = ids_other_than(&[survivor])[..] else {
        unreachable!()
    };

    // Two of three lose their memory at once: f+1 = 2 others must answer a
    // recovery, and only the survivor can.
    group.kill(first).unwrap();
    group.kill(second).unwrap();
    group.restart(first).unwrap();
    group.restart(second).unwrap();
    let warning = common::wait_until(
        Instant::now() + Duration::from_secs(30),
        Duration::from_millis(100),
        || {
            let logs = group.logs();
            match logs.lines().find(|l| l.contains("still recovering: only")) {
                Some(line) => Break(line.to_string()),
                None => Continue(logs),
            }
        },
        |logs| format!("no warning about the stalled recovery: {logs}"),
    );
    let way_out = format!("--recover-from {survivor}");
    assert!(warning.contains(&way_out), "{warning}");

    // The way out, as the warning says: one of them recovers from the
    // survivor alone, then the other recovers normally.
    group
        .restart_with(first, &["--recover-from", &survivor.to_string()])
        .unwrap();
    for id in [first, second] {
        wait_caught_up(&group, id, Duration::from_secs(20));
    }
    group
        .wait_for_leader(None, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{e}\n{}", group.logs()));
    assert_keys(&group, KEYS);
    group.stop();
}
