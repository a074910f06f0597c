//! The shipped Verilog under Icarus Verilog: `riptide_core.v` as
//! `write_verilog` emits it, driven by `tests/icarus/tb_riptide_core.v`
//! through a program this test writes (register writes, network and
//! host-to-card beats), must run to its end without simulated time stalling,
//! and what leaves it must be what the behavioural model produces for the
//! same inputs. Without `iverilog` the test passes with a note on a developer
//! machine and fails under CI (`CI=true`), which installs it
//! (`scripts/install-hdl-tools.sh`).

use riptide_driver::model::{ModelBugs, ModelNic};
use riptide_hw::beat::{BEAT_BYTES, Beat, beats};
use riptide_hw::verilog::write_verilog;
use riptide_wire::frame::Endpoint;
use riptide_wire::host::{CardToHost, NicCommand, NicConfig, NicEvent, NicRole};
use riptide_wire::message::{Envelope, MsgType};
use riptide_wire::records;
use riptide_wire::regs::{self, Counter};
use riptide_wire::{Ballot, Message};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const GROUP: u16 = 7;
const REPLICAS: u8 = 3;
/// The core under test is replica 1: a follower of replica 0, then leader.
const ID: u8 = 1;
const BACK_TO_BACK_ACCEPTS: u64 = 1000;
/// A hang in Icarus is a zero-delay loop: simulated time stops while the
/// process spins, so only the wall clock can end it.
const WALL_CLOCK_LIMIT: Duration = Duration::from_secs(60);
const TESTBENCH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/icarus/tb_riptide_core.v"
);

const OP_END: u32 = 0;
const OP_WRITE: u32 = 1;
const OP_RX: u32 = 2;
const OP_H2C: u32 = 3;
const OP_IDLE: u32 = 4;
const OP_READ: u32 = 5;
const OP_QUIET: u32 = 6;
/// Idle cycles on net_tx and c2h after which the core has answered
/// everything it was given (its deepest pipeline is a few cycles long).
const QUIET: u32 = 32;

fn tool_available(tool: &str) -> bool {
    let found = Command::new(tool).arg("-V").output().is_ok();
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{tool} is missing under CI: scripts/install-hdl-tools.sh installs it"
        );
        eprintln!("note: {tool} not installed, check not run (scripts/install-hdl-tools.sh)");
    }
    found
}

/// The testbench's program and the behavioural model, fed the same inputs as
/// they are written.
struct Scenario {
    ops: Vec<[u32; 3]>,
    rx: Vec<Beat>,
    h2c: Vec<Beat>,
    model: ModelNic,
    peers: Vec<Endpoint>,
    /// Registers read at the end, in order, with the model's value.
    reads: Vec<(u32, u32)>,
}

impl Scenario {
    fn new() -> Scenario {
        let peers: Vec<Endpoint> = (0..REPLICAS).map(ModelNic::default_endpoint).collect();
        let mut s = Scenario {
            ops: vec![],
            rx: vec![],
            h2c: vec![],
            model: ModelNic::with_peers(ID, GROUP, peers.clone(), ModelBugs::default()),
            peers,
            reads: vec![],
        };
        // As RtlNic::new programs a fresh core: peer table, identity, enable.
        for (i, peer) in s.peers.clone().iter().enumerate() {
            let field = |n: usize| regs::peer_register(i, &regs::PEER_FIELDS[n]).expect("in table");
            let mac = peer.mac;
            s.write(
                field(0),
                u32::from_be_bytes([mac[2], mac[3], mac[4], mac[5]]),
            );
            s.write(field(1), u32::from(u16::from_be_bytes([mac[0], mac[1]])));
            s.write(field(2), u32::from_be_bytes(peer.ip));
            s.write(field(3), u32::from(peer.port));
        }
        s.write(regs::CFG_REPLICA_ID.offset, ID.into());
        s.write(regs::CFG_GROUP_ID.offset, GROUP.into());
        s.write(regs::CFG_REPLICAS.offset, REPLICAS.into());
        s.write(regs::CFG_ROLE.offset, regs::ROLE_IDLE);
        s.write(regs::CONFIG_APPLY.offset, 1);
        s.write(regs::ENABLE.offset, 1);
        s
    }

    fn write(&mut self, offset: u32, value: u32) {
        self.ops.push([OP_WRITE, offset, value]);
    }

    fn write64(&mut self, lo: regs::Register, hi: regs::Register, value: u64) {
        self.write(lo.offset, value as u32);
        self.write(hi.offset, (value >> 32) as u32);
    }

    fn quiet(&mut self) {
        self.ops.push([OP_QUIET, QUIET, 0]);
    }

    fn configure(&mut self, config: NicConfig) {
        let role = match config.role {
            NicRole::Idle => regs::ROLE_IDLE,
            NicRole::Follower => regs::ROLE_FOLLOWER,
            NicRole::Leader => regs::ROLE_LEADER,
        };
        self.write(regs::CFG_ROLE.offset, role);
        self.write(regs::CFG_REPLICAS.offset, config.replicas.into());
        self.write(regs::CFG_WINDOW.offset, config.window as u32);
        self.write64(regs::CFG_BALLOT_LO, regs::CFG_BALLOT_HI, config.ballot.0);
        self.write64(
            regs::CFG_NEXT_SLOT_LO,
            regs::CFG_NEXT_SLOT_HI,
            config.next_slot,
        );
        self.write64(regs::CFG_COMMIT_LO, regs::CFG_COMMIT_HI, config.commit);
        self.write(regs::CONFIG_APPLY.offset, 1);
        self.model.command(NicCommand::Configure(config));
    }

    /// Frames on net_rx with no idle cycle between them.
    fn receive_back_to_back(&mut self, frames: &[Vec<u8>]) {
        let first = self.rx.len() as u32;
        for frame in frames {
            self.rx.extend(beats(frame));
            self.model.receive(frame);
        }
        self.ops.push([OP_RX, first, self.rx.len() as u32]);
    }

    /// One frame, then two idle cycles (as `RtlNic::receive`).
    fn receive(&mut self, frame: &[u8]) {
        self.receive_back_to_back(&[frame.to_vec()]);
        self.ops.push([OP_IDLE, 2, 0]);
    }

    fn submit(&mut self, value: Vec<u8>) {
        let command = NicCommand::Submit { value };
        let record = records::encode_h2c(&command).expect("a valid Submit");
        let first = self.h2c.len() as u32;
        self.h2c.extend(beats(&record));
        self.ops.push([OP_H2C, first, self.h2c.len() as u32]);
        self.model.command(command);
    }

    fn heartbeat(&mut self) {
        self.write(regs::HEARTBEAT.offset, 1);
        self.model.command(NicCommand::Heartbeat);
    }

    fn read(&mut self, offset: u32, expected: u32) {
        self.ops.push([OP_READ, offset, 0]);
        self.reads.push((offset, expected));
    }
}

fn frame(from: u8, to: u8, message: Message) -> Vec<u8> {
    ModelNic::default_frame(GROUP, from, to, message)
}

fn accept(ballot: Ballot, slot: u64) -> Vec<u8> {
    frame(
        0,
        ID,
        Message::Accept {
            ballot,
            slot,
            commit: 0,
            value: vec![],
        },
    )
}

/// The run: follower under 1,000 back-to-back ACCEPTs and one stale one,
/// then leader with submits, heartbeats and acks from a follower.
fn scenario() -> Scenario {
    let mut s = Scenario::new();
    let ballot = Ballot::new(3, 0);
    s.configure(NicConfig {
        role: NicRole::Follower,
        ballot,
        next_slot: 1,
        commit: 0,
        replicas: REPLICAS,
        window: u64::from(regs::MAX_WINDOW_SLOTS),
        lives: [0; regs::MAX_REPLICAS],
    });
    let accepts: Vec<Vec<u8>> = (1..=BACK_TO_BACK_ACCEPTS)
        .map(|slot| accept(ballot, slot))
        .collect();
    s.receive_back_to_back(&accepts);
    s.quiet();
    s.receive(&accept(Ballot::new(2, 0), BACK_TO_BACK_ACCEPTS + 1));
    s.quiet();

    let ours = Ballot::new(4, ID);
    let next = BACK_TO_BACK_ACCEPTS + 1;
    s.configure(NicConfig {
        role: NicRole::Leader,
        ballot: ours,
        next_slot: next,
        commit: next - 1,
        replicas: REPLICAS,
        window: u64::from(regs::MAX_WINDOW_SLOTS),
        lives: [0; regs::MAX_REPLICAS],
    });
    // Values of 0 to 5 beats, some ending exactly on a beat boundary.
    let lengths = [0usize, 1, 10, 54, 64, 118, 200, 300];
    for (i, &len) in lengths.iter().enumerate() {
        s.submit((0..len).map(|b| (b * 7 + i) as u8).collect());
        s.quiet();
    }
    s.heartbeat();
    s.quiet();
    for slot in next..next + lengths.len() as u64 {
        s.receive(&frame(0, ID, Message::Accepted { ballot: ours, slot }));
    }
    s.quiet();
    s.heartbeat();
    s.quiet();

    s.read(regs::ID.offset, regs::ID_VALUE);
    let commit = s.model.config().commit;
    s.read(regs::COMMIT_LO.offset, commit as u32);
    for &counter in Counter::ALL {
        let value = s.model.counters().get(counter) as u32;
        s.read(counter.offset(), value);
    }
    s.ops.push([OP_END, 0, 0]);
    s
}

fn beat_line(beat: &Beat) -> String {
    let mut line = format!("{:x}{:016x}", u8::from(beat.last), beat.keep);
    for byte in beat.data.iter().rev() {
        write!(line, "{byte:02x}").expect("to a String");
    }
    line
}

fn write_hex(path: &Path, lines: impl Iterator<Item = String>) {
    let mut text = String::new();
    for line in lines {
        text.push_str(&line);
        text.push('\n');
    }
    std::fs::write(path, text).expect("write a hex file");
}

/// A beat as the testbench prints it: `<tlast> <tkeep> <tdata>`.
fn parse_beat(fields: &[&str]) -> Beat {
    assert_eq!(fields.len(), 3, "beat line {fields:?}");
    let keep = u64::from_str_radix(fields[1], 16).expect("tkeep");
    let hex = fields[2];
    assert_eq!(hex.len(), 2 * BEAT_BYTES, "tdata width: {hex}");
    let mut data = [0u8; BEAT_BYTES];
    for (i, byte) in data.iter_mut().enumerate() {
        // Byte i is tdata[8i+7:8i]: printed most significant first.
        let at = 2 * (BEAT_BYTES - 1 - i);
        *byte = u8::from_str_radix(&hex[at..at + 2], 16).unwrap_or_else(|_| {
            panic!("tdata byte {i} is not a number (x or z?): {hex}");
        });
    }
    Beat {
        data,
        keep,
        last: fields[0] == "1",
    }
}

/// What the testbench printed, reassembled.
#[derive(Default)]
struct Run {
    frames: Vec<Vec<u8>>,
    records: Vec<CardToHost>,
    reads: Vec<(u32, u32)>,
    end: Option<u64>,
    last_progress: u64,
    hung: Option<String>,
}

fn parse(output: &str) -> Run {
    let mut run = Run::default();
    let (mut tx, mut c2h) = (vec![], vec![]);
    for line in output.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.first().copied() {
            Some("T") => {
                let beat = parse_beat(&fields[1..]);
                tx.extend_from_slice(beat.bytes());
                if beat.last {
                    run.frames.push(std::mem::take(&mut tx));
                }
            }
            Some("C") => {
                let beat = parse_beat(&fields[1..]);
                c2h.extend_from_slice(beat.bytes());
                if beat.last {
                    let bytes = std::mem::take(&mut c2h);
                    run.records.push(
                        records::decode_c2h(&bytes)
                            .unwrap_or_else(|e| panic!("malformed c2h record {bytes:02x?}: {e}")),
                    );
                }
            }
            Some("R") => {
                let number = |s: &str| u32::from_str_radix(s, 16).expect("hex register line");
                run.reads.push((number(fields[1]), number(fields[2])));
            }
            Some("P") => run.last_progress = fields[1].parse().expect("cycle"),
            Some("END") => run.end = Some(fields[1].parse().expect("cycle")),
            Some("HUNG") => run.hung = Some(line.to_string()),
            _ => {}
        }
    }
    assert!(tx.is_empty() && c2h.is_empty(), "a packet without tlast");
    run
}

fn work_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("riptide-hw-icarus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("work dir");
    dir
}

/// Runs `vvp` in `dir`, killed after [`WALL_CLOCK_LIMIT`]; returns its
/// stdout and whether it had to be killed.
fn run_vvp(dir: &Path) -> (String, bool) {
    let out_path = dir.join("vvp.out");
    let out = std::fs::File::create(&out_path).expect("vvp output file");
    let mut child = Command::new("vvp")
        .args(["-n", "tb.vvp"])
        .current_dir(dir)
        .stdout(out)
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start vvp");
    let start = Instant::now();
    let killed = loop {
        if child.try_wait().expect("wait for vvp").is_some() {
            break false;
        }
        if start.elapsed() > WALL_CLOCK_LIMIT {
            child.kill().expect("kill vvp");
            child.wait().expect("reap vvp");
            break true;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(&out_path).expect("read vvp output");
    (text, killed)
}

#[test]
fn core_runs_follower_and_leader_traffic_like_the_model() {
    if !tool_available("iverilog") || !tool_available("vvp") {
        return;
    }
    let mut s = scenario();
    let dir = work_dir();
    write_verilog(&dir).expect("write riptide_core.v");
    write_hex(
        &dir.join("prog.hex"),
        s.ops
            .iter()
            .map(|[op, a, b]| format!("{op:08x}{a:08x}{b:08x}{:08x}", 0)),
    );
    write_hex(&dir.join("rx.hex"), s.rx.iter().map(beat_line));
    write_hex(&dir.join("h2c.hex"), s.h2c.iter().map(beat_line));
    let depth = |name: &str, n: usize| format!("-Ptb.{name}={}", n.max(1));
    let compile = Command::new("iverilog")
        .args(["-g2012", "-o", "tb.vvp", "-s", "tb"])
        .arg(depth("PROG_DEPTH", s.ops.len()))
        .arg(depth("RX_DEPTH", s.rx.len()))
        .arg(depth("H2C_DEPTH", s.h2c.len()))
        .arg(TESTBENCH)
        .arg("riptide_core.v")
        .current_dir(&dir)
        .output()
        .expect("run iverilog");
    assert!(
        compile.status.success(),
        "iverilog failed:\n{}",
        String::from_utf8_lossy(&compile.stderr)
    );

    let (output, killed) = run_vvp(&dir);
    let run = parse(&output);
    assert!(
        !killed,
        "vvp still running after {WALL_CLOCK_LIMIT:?} with simulated time stuck at or after \
         cycle {} (a zero-delay loop between combinational blocks?); output in {}",
        run.last_progress,
        dir.display()
    );
    assert_eq!(run.hung, None, "the testbench gave up");
    let end = run.end.expect("the program ran to its end");

    let mut model_frames = vec![];
    while let Some((to, frame)) = s.model.poll_transmit() {
        model_frames.push((to, frame));
    }
    let mut model_records = vec![];
    while let Some(record) = s.model.poll_host() {
        model_records.push(record);
    }
    // The scenario does what it says (the model's reading of it).
    let of_type = |t: MsgType| {
        model_frames
            .iter()
            .filter(|(_, f)| message_type(f) == t)
            .count()
    };
    assert_eq!(of_type(MsgType::Accepted), BACK_TO_BACK_ACCEPTS as usize);
    assert_eq!(of_type(MsgType::Nack), 1, "the stale ACCEPT is refused");
    assert!(of_type(MsgType::Accept) > 0 && of_type(MsgType::Commit) > 0);
    let accepted_records = model_records
        .iter()
        .filter(|r| matches!(r, CardToHost::Event(NicEvent::Accepted { .. })))
        .count();
    assert!(accepted_records > BACK_TO_BACK_ACCEPTS as usize);
    assert!(
        model_records
            .iter()
            .any(|r| matches!(r, CardToHost::Event(NicEvent::Committed { .. }))),
        "the acks commit"
    );

    // The Verilog agrees with the model, frame by frame and record by record.
    assert_eq!(
        run.frames.len(),
        model_frames.len(),
        "frames out of the Verilog core"
    );
    for (i, (got, (to, want))) in run.frames.iter().zip(&model_frames).enumerate() {
        assert_eq!(got, want, "frame {i} (to replica {to}) differs");
        assert_eq!(
            got[..6],
            s.peers[usize::from(*to)].mac[..],
            "frame {i} addressed"
        );
    }
    assert_eq!(run.records.len(), model_records.len(), "c2h records");
    for (i, (got, want)) in run.records.iter().zip(&model_records).enumerate() {
        assert_eq!(got, want, "c2h record {i} differs");
    }
    assert_eq!(run.reads.len(), s.reads.len(), "register reads answered");
    for (&(offset, got), &(_, want)) in run.reads.iter().zip(&s.reads) {
        let name = Counter::ALL
            .iter()
            .find(|c| c.offset() == offset)
            .map_or(format!("{offset:#x}"), |c| c.name().to_string());
        assert_eq!(got, want, "register {name}");
    }
    eprintln!(
        "icarus: {end} cycles, {} frames and {} records agree with the model",
        run.frames.len(),
        run.records.len()
    );
    // Kept when a check fails, for the waveform-less post mortem the
    // messages point to.
    let _ = std::fs::remove_dir_all(&dir);
}

fn message_type(frame: &[u8]) -> MsgType {
    let view = riptide_wire::frame::decode_frame(frame, riptide_wire::layout::UDP_PORT)
        .expect("a frame the model sent");
    Envelope::decode(view.datagram, GROUP)
        .expect("a riptide datagram")
        .message
        .msg_type()
}

#[test]
fn beats_print_and_parse_as_the_testbench_does() {
    let packet: Vec<u8> = (0..100u8).collect();
    let cut = beats(&packet);
    let line = beat_line(&cut[1]);
    // The testbench prints tlast, tkeep and tdata as separate fields, from
    // the same 580-bit word it reads: split that word the same way.
    let (last, rest) = line.split_at(1);
    let (keep, data) = rest.split_at(16);
    assert_eq!(parse_beat(&[last, keep, data]), cut[1]);
    assert_eq!(
        &data[data.len() - 2..],
        "40",
        "byte 64 of the packet is tdata[7:0]"
    );
}
