//! Operating riptide as a new user would (issue 16): oversize values, error
//! messages, what the client prints, configuration mistakes. Each test runs
//! the `riptide` binary; the ones that need a group start one on loopback
//! and kill it when they end.

use std::net::UdpSocket;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use riptide_bench::udp::group::{GroupOptions, ProcessGroup};
use riptide_control::client::{Progress, Session};
use riptide_control::kv::{self, Reply};

mod common;
use common::{Scratch, THREE_REPLICAS, riptide, stderr, stdout};

fn start_group() -> ProcessGroup {
    let group = ProcessGroup::start(
        env!("CARGO_BIN_EXE_riptide").as_ref(),
        GroupOptions::loopback(3),
    )
    .expect("group starts");
    group
        .wait_for_leader(None, Duration::from_secs(10))
        .expect("a leader");
    group
}

fn client(config: &Path, args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let mut all = vec!["client", "--config", config.to_str().unwrap()];
    all.extend_from_slice(args);
    let output = riptide(&all);
    (output, started.elapsed())
}

#[test]
fn every_value_size_is_served_or_refused_at_once_naming_the_limit() {
    let group = start_group();
    let config = group.config_path();
    let limit = kv::MAX_LOG_VALUE_LEN.to_string();

    // The largest put that fits the log is served.
    let fits = "v".repeat(kv::MAX_LOG_VALUE_LEN - 26 - 1);
    let (output, _) = client(config, &["put", "k", &fits]);
    assert!(output.status.success(), "{}", stderr(&output));
    let (output, _) = client(config, &["get", "k"]);
    assert_eq!(stdout(&output).trim_end(), fits);

    // One byte more, 20,000 and 70,000 bytes (more than a datagram): refused
    // at once, no panic, the limit named.
    for len in [fits.len() + 1, 20_000, 70_000] {
        let (output, took) = client(config, &["put", "k", &"w".repeat(len)]);
        let err = stderr(&output);
        println!("a {len}-byte put is refused in {took:?}: {}", err.trim());
        assert_eq!(output.status.code(), Some(2), "{len}: {err}");
        assert!(err.contains(&limit), "{len}: {err}");
        assert!(!err.contains("panicked"), "{len}: {err}");
        assert!(took < Duration::from_secs(2), "{len}: took {took:?}");
    }

    // The protocol refuses it too: a client that skips the check gets a
    // reply, not silence.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let leader = group.leader().expect("a leader").id;
    let addr = group.config().replicas[usize::from(leader)].client;
    let mut session = Session::new(77, group.config().group, 3);
    let datagram = session.begin(&kv::Command::Put {
        key: "k".into(),
        value: "x".repeat(20_000),
    });
    socket.send_to(&datagram, addr).unwrap();
    let mut buf = vec![0; 1 << 16];
    let (len, _) = socket.recv_from(&mut buf).expect("a reply within 2 s");
    assert_eq!(
        session.on_datagram(&buf[..len]),
        Progress::Done(Reply::TooLarge {
            max: kv::MAX_LOG_VALUE_LEN as u32
        })
    );
}

#[test]
fn the_client_prints_values_on_stdout_and_absence_as_documented() {
    let group = start_group();
    let config = group.config_path();
    // Absent: nothing on out (so `v=$(riptide client … get k)` is empty),
    // "(absent)" on err, exit 1.
    let (output, _) = client(config, &["get", "nothing-here"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "");
    assert_eq!(stderr(&output).trim(), "(absent)");
    // Deleting an absent key succeeds: delete means "make it absent".
    let (output, _) = client(config, &["delete", "nothing-here"]);
    assert!(output.status.success());
    assert_eq!(stdout(&output), "ok\n");
    // A value is printed alone on out.
    client(config, &["put", "k", "v 1"]);
    let (output, _) = client(config, &["get", "k"]);
    assert_eq!(stdout(&output), "v 1\n");
}

fn occurrences(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn an_os_error_is_printed_once() {
    let scratch = Scratch::new("os-errors");
    // A client port another process holds.
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let free = UdpSocket::bind("127.0.0.1:0").unwrap();
    let config = scratch.write(
        "cluster.toml",
        &THREE_REPLICAS
            .replace(
                "127.0.0.1:7100",
                &format!("127.0.0.1:{}", free.local_addr().unwrap().port()),
            )
            .replace(
                "client_port = 7200",
                &format!("client_port = {}", taken.local_addr().unwrap().port()),
            ),
    );
    drop(free);
    let state = scratch.join("state");
    let output = riptide(&[
        "replica",
        "--config",
        &config,
        "--id",
        "0",
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot bind the client address"), "{err}");
    assert_eq!(occurrences(&err, "(os error 98)"), 1, "{err}");

    // A config that cannot be read.
    let output = riptide(&["status", "--config", "/nonexistent/cluster.toml"]);
    let err = stderr(&output);
    assert!(err.contains("cannot read /nonexistent/cluster.toml"));
    assert_eq!(occurrences(&err, "(os error 2)"), 1, "{err}");

    // A state directory below a file.
    let file = scratch.write("a-file", "");
    let output = riptide(&[
        "replica",
        "--config",
        &config,
        "--id",
        "0",
        "--state-dir",
        &format!("{file}/state"),
    ]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert_eq!(occurrences(&err, "(os error 20)"), 1, "{err}");
}

#[test]
fn configuration_mistakes_are_named_before_anything_runs() {
    let scratch = Scratch::new("config");
    let good = THREE_REPLICAS;
    let cases = [
        (
            good.replacen("127.0.0.1:7101", "0.0.0.0:7100", 1),
            "replica[1].address: 0.0.0.0:7100: 0.0.0.0 is not an address",
        ),
        (
            good.replacen(
                "client_port = 7201",
                "client_port = 7201\nmac = \"02:00:00:00:00:01\"",
                1,
            )
            .replacen(
                "client_port = 7202",
                "client_port = 7202\nmac = \"02:00:00:00:00:01\"",
                1,
            ),
            "replica[2].mac: 02:00:00:00:00:01 is already replica[1].mac",
        ),
        (
            good.replacen(
                "client_port = 7201",
                "client_port = 7201\nmac = \"01:00:5e:00:00:01\"",
                1,
            ),
            "replica[1].mac: 01:00:5e:00:00:01: a multicast MAC",
        ),
        (
            format!("{good}\n[timing]\ntick_ms = 18446744073709551615\n"),
            "timing.tick_ms: must be 1 to 1000",
        ),
        (
            format!("{good}\n[timing]\nheartbeat_ticks = 9223372036854775809\n"),
            "timing.heartbeat_ticks: must be 1 to 1000000 ticks",
        ),
    ];
    for (index, (config, expected)) in cases.iter().enumerate() {
        let path = scratch.write(&format!("case-{index}.toml"), config);
        for args in [
            &["replica", "--config", &path, "--id", "0"][..],
            &["client", "--config", &path, "get", "k"],
            &["status", "--config", &path],
        ] {
            let output = riptide(args);
            let err = stderr(&output);
            assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
            assert!(err.contains(expected), "{args:?}: {err}");
        }
    }

    // Ids are listed, not given as a range that reads as if it included 3.
    let path = scratch.write("good.toml", good);
    for args in [
        &["replica", "--config", &path, "--id", "3"][..],
        &["status", "--config", &path, "--id", "3"],
    ] {
        let output = riptide(args);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{err}");
        assert!(err.contains("ids 0, 1, 2"), "{args:?}: {err}");
    }

    // A start record no replica writes is refused at this start, not the next.
    let state = scratch.join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(
        state.join("group-3-replica-0.lives"),
        "18446744073709551614\n",
    )
    .unwrap();
    let output = riptide(&[
        "replica",
        "--config",
        &path,
        "--id",
        "0",
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("is not a start count"), "{err}");
}

#[test]
fn a_client_follows_the_new_leader_as_soon_as_it_is_known() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    use riptide_node::client::{Client, ClientOptions};

    // Default timing (10 ms ticks, elections after 300 to 600 ms of
    // silence) and the CLI's client options, as an operator runs them.
    let mut group = start_group();
    let old = group.leader().expect("a leader");
    let config = group.config().clone();
    let done: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (done, stop) = (done.clone(), stop.clone());
        std::thread::spawn(move || {
            // Client 0 starts at replica 0, whoever leads.
            let mut client = Client::new(&config, 0, ClientOptions::default()).unwrap();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                if client.put("k", &n.to_string()).is_ok() {
                    done.lock().unwrap().push(Instant::now());
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let killed = Instant::now();
    group.kill(old.id).unwrap();
    let survivors: Vec<u8> = (0..3).filter(|&id| id != old.id).collect();
    let mut elected = None;
    while elected.is_none() && killed.elapsed() < Duration::from_secs(5) {
        if survivors.iter().any(|&id| {
            group
                .status(id)
                .is_some_and(|s| s.is_leader() && s.ballot() > old.ballot())
        }) {
            elected = Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let elected = elected.expect("a new leader within 5 s");
    // The first put completed after the kill (one completing within 50 ms
    // of it was answered by the old leader: no election is that fast).
    let resumed = loop {
        let first = done
            .lock()
            .unwrap()
            .iter()
            .copied()
            .find(|&t| t > killed + Duration::from_millis(50));
        if let Some(t) = first {
            break t;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(6),
            "no put completed within 6 s of the kill"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let lag = resumed.saturating_duration_since(elected);
    println!(
        "failover: a new leader answered status {:?} after the kill; the client resumed \
         {:?} after the kill, {lag:?} after the new leader was seen",
        elected - killed,
        resumed - killed
    );
    // Following the new leader takes at most a pause of 20 ms and a round
    // trip (measured: 0 to 20 ms). Before, a client sent back to the dead
    // leader by a stale hint waited out a second attempt timeout (measured:
    // 220 to 245 ms after the new leader was seen, or 0 when its next try
    // happened to be the new leader). The bound leaves a loaded machine
    // 130 ms of slack and still fails that second wait.
    assert!(lag < Duration::from_millis(150), "lag {lag:?}");
    assert!(resumed - killed < Duration::from_secs(3));
}

#[test]
fn status_and_client_say_what_the_replicas_report_and_status_exits_by_health() {
    let mut group = start_group();
    let config = group.config_path().to_str().unwrap().to_string();
    let status = || riptide(&["status", "--config", &config]);

    let output = status();
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains("serving: replica"));

    // One replica down: the group serves, degraded (exit 3).
    let leader = group.leader().expect("a leader").id;
    let [a, b] = [(leader + 1) % 3, (leader + 2) % 3];
    group.kill(a).unwrap();
    let output = status();
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(3), "{out}");
    assert!(
        out.contains(&format!("replica {a}: does not answer")),
        "{out}"
    );

    // Two down, one of them restarted: it recovers, but only one other
    // replica answers it, so nobody can lead. Both tools say so.
    group.kill(b).unwrap();
    group.restart(a).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let output = status();
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.contains("cannot serve"), "{out}");
    assert!(out.contains(&format!("replica {a}: recovering")), "{out}");
    let (output, _) = client(
        group.config_path(),
        &["--timeout-ms", "1000", "put", "k", "v"],
    );
    let err = stderr(&output);
    println!("{err}");
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot serve") && err.contains(&format!("replica {a}: recovering")),
        "{err}"
    );
    assert!(!err.contains("election may be stuck"), "{err}");
}

#[test]
fn no_reply_to_an_unproven_source_is_larger_than_its_request() {
    use riptide_node::status::{STATUS_REQUEST, parse_cookie_reply, status_request};

    let group = start_group();
    let leader = group.leader().expect("a leader").id;
    let addr = group.config().replicas[usize::from(leader)].client;
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut buf = vec![0; 1 << 16];
    let mut ask = |datagram: &[u8]| {
        socket.send_to(datagram, addr).unwrap();
        let (len, _) = socket.recv_from(&mut buf).expect("an answer");
        buf[..len].to_vec()
    };

    // Status: a cookie as long as the request, then the report.
    let challenge = ask(STATUS_REQUEST);
    assert_eq!(challenge.len(), STATUS_REQUEST.len());
    let cookie = parse_cookie_reply(&challenge).expect("a cookie");
    let report = ask(&status_request(cookie));
    assert!(serde_json::from_slice::<serde_json::Value>(&report).is_ok());
    println!(
        "status: {} bytes answer a {}-byte request from an unproven source ({:.1}x); the \
         report ({} bytes, {:.0}x the request) goes only to a proven one",
        challenge.len(),
        STATUS_REQUEST.len(),
        challenge.len() as f64 / STATUS_REQUEST.len() as f64,
        report.len(),
        report.len() as f64 / STATUS_REQUEST.len() as f64,
    );

    // A get of a long value from a source that has not proven itself.
    let value = "v".repeat(10_000);
    let (output, _) = client(group.config_path(), &["put", "k", &value]);
    assert!(output.status.success());
    // Client id `leader + 3k` starts at the leader.
    let mut session = Session::new(u64::from(leader) + 4242 * 3, group.config().group, 3);
    assert_eq!(session.target(), usize::from(leader));
    let get = session.begin(&kv::Command::Get { key: "k".into() });
    let reply = ask(&get);
    assert!(reply.len() <= get.len(), "{} > {}", reply.len(), get.len());
    assert_eq!(
        session.on_datagram(&reply),
        Progress::Resend {
            delay: Duration::ZERO
        }
    );
    // Proven, the value comes.
    let retry = session.retry_datagram().unwrap();
    let answer = ask(&retry);
    assert_eq!(
        session.on_datagram(&answer),
        Progress::Done(Reply::Value(Some(value)))
    );
    println!(
        "get: {} bytes answer a {}-byte request from an unproven source; the {}-byte value \
         goes to a proven one",
        reply.len(),
        get.len(),
        answer.len()
    );
}
