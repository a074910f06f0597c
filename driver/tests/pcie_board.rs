//! `AlveoNic` end to end over the fake board, with the behavioural model as
//! the card: identity checks, double-buffered configuration, the fence
//! handshake and its ordering, submit → Accepted, network frames → host
//! records, raw transmits, counters, interrupts, and faults surfacing as
//! typed errors.

use riptide_driver::model::{ModelBugs, ModelNic};
use riptide_driver::pcie::board::{AlveoNic, AlveoOptions, BoardError, RIPTIDE_IDS};
use riptide_driver::pcie::device::{PciIds, PcieDevice, Wake};
use riptide_driver::pcie::fake::{FakeDevice, Fault};
use riptide_driver::pcie::xdma::{Direction, RingConfig, XdmaError};
use riptide_wire::frame::{Endpoint, decode_frame};
use riptide_wire::host::{CardToHost, NicCommand, NicConfig, NicEvent, NicRole};
use riptide_wire::layout::UDP_PORT;
use riptide_wire::records::RecordError;
use riptide_wire::regs::{self, Counter};
use riptide_wire::{Ballot, Envelope, Message};
use std::time::Duration;

const GROUP: u16 = 7;
const B1: Ballot = Ballot::new(1, 0);
const B2: Ballot = Ballot::new(2, 1);

type Board = AlveoNic<FakeDevice<ModelNic>>;

fn card(replica: u8) -> FakeDevice<ModelNic> {
    FakeDevice::new(ModelNic::new(replica, 3, GROUP, ModelBugs::default()))
}

fn board_with(replica: u8, options: AlveoOptions) -> Board {
    AlveoNic::open(card(replica), options).unwrap()
}

fn board(replica: u8) -> Board {
    board_with(replica, AlveoOptions::default())
}

fn config(role: NicRole, ballot: Ballot, next_slot: u64) -> NicConfig {
    NicConfig {
        role,
        ballot,
        next_slot,
        commit: 0,
        replicas: 3,
        window: 64,
        lives: Default::default(),
    }
}

fn frame(from: u8, to: u8, message: Message) -> Vec<u8> {
    ModelNic::default_frame(GROUP, from, to, message)
}

fn accept(slot: u64, commit: u64, value: &[u8]) -> Message {
    Message::Accept {
        ballot: B1,
        slot,
        commit,
        value: value.to_vec(),
    }
}

fn records(nic: &mut Board) -> Vec<CardToHost> {
    std::iter::from_fn(|| nic.poll_host().unwrap()).collect()
}

fn accepted(ballot: Ballot, slot: u64, value: &[u8]) -> CardToHost {
    CardToHost::Event(NicEvent::Accepted {
        ballot,
        slot,
        value: value.to_vec(),
    })
}

/// User-BAR writes made after `from`, as (register name, value).
fn user_writes(nic: &Board, from: usize) -> Vec<(String, u32)> {
    nic.device().writes()[from..]
        .iter()
        .filter(|w| w.bar == AlveoOptions::default().user_bar)
        .map(|w| (regs::name_at(w.offset as u32).unwrap(), w.value))
        .collect()
}

#[test]
fn open_checks_pci_ids_identity_and_version() {
    let wrong = PciIds {
        vendor: 0x10EE,
        device: 0x7038,
    };
    match AlveoNic::open(card(0).with_ids(wrong), AlveoOptions::default()) {
        Err(e @ BoardError::WrongDevice { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("10ee:7038") && text.contains("10ee:903f"),
                "{text}"
            );
        }
        other => panic!("expected WrongDevice, got {other:?}"),
    }
    let any = AlveoOptions {
        expected_ids: None,
        ..AlveoOptions::default()
    };
    assert!(AlveoNic::open(card(0).with_ids(wrong), any).is_ok());

    let not_riptide = card(0).with_identity(0xFFFF_FFFF, 0);
    match AlveoNic::open(not_riptide, AlveoOptions::default()) {
        Err(e @ BoardError::NotRiptide { .. }) => {
            assert!(e.to_string().contains("bitstream is not loaded"), "{e}")
        }
        other => panic!("expected NotRiptide, got {other:?}"),
    }
    let old = card(0).with_identity(regs::ID_VALUE, 1 << 16 | (regs::REGMAP_REVISION + 1));
    assert!(matches!(
        AlveoNic::open(old, AlveoOptions::default()),
        Err(BoardError::VersionMismatch { .. })
    ));
    assert_eq!(RIPTIDE_IDS.vendor, 0x10EE);
}

#[test]
fn the_xdma_registers_must_be_on_the_dma_bar() {
    let swapped = AlveoOptions {
        dma_bar: AlveoOptions::default().user_bar,
        ..AlveoOptions::default()
    };
    match AlveoNic::open(card(0), swapped) {
        Err(BoardError::Xdma(e @ XdmaError::NotAnEngine { .. })) => {
            assert!(e.to_string().contains("BAR 1"), "{e}")
        }
        other => panic!("expected NotAnEngine, got {other:?}"),
    }
}

#[test]
fn configure_stages_every_register_then_applies_them_at_once() {
    let mut nic = board(0);
    let start = nic.device().writes().len();
    let cfg = NicConfig {
        role: NicRole::Leader,
        ballot: Ballot(0x1_0000_0002),
        next_slot: 0x5_0000_0001,
        commit: 0x5_0000_0000,
        replicas: 5,
        window: 48,
        lives: [0, 3, 0, 0xff, 1, 0, 0, 7],
    };
    nic.command(NicCommand::Configure(cfg.clone())).unwrap();
    let names: Vec<String> = user_writes(&nic, start)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "CFG_ROLE",
            "CFG_REPLICAS",
            "CFG_WINDOW",
            "CFG_BALLOT_LO",
            "CFG_BALLOT_HI",
            "CFG_NEXT_SLOT_LO",
            "CFG_NEXT_SLOT_HI",
            "CFG_COMMIT_LO",
            "CFG_COMMIT_HI",
            "CFG_LIVES_LO",
            "CFG_LIVES_HI",
            "CONFIG_APPLY",
        ]
    );
    assert_eq!(nic.device().card().config(), &cfg);
    assert_eq!(
        nic.next_slot().unwrap(),
        0x5_0000_0001,
        "read through the latch"
    );
    assert_eq!(nic.commit().unwrap(), 0x5_0000_0000);
}

#[test]
fn staged_configuration_is_not_live_before_config_apply() {
    let mut nic = board(0);
    nic.configure(&config(NicRole::Follower, B1, 1)).unwrap();
    let user = AlveoOptions::default().user_bar;
    let dev = nic.device_mut();
    dev.write32(user, regs::CFG_BALLOT_LO.offset.into(), 0xBEEF)
        .unwrap();
    dev.write32(user, regs::CFG_ROLE.offset.into(), regs::ROLE_LEADER)
        .unwrap();
    assert_eq!(
        dev.card().config().ballot,
        B1,
        "half-written ballot not live"
    );
    assert_eq!(dev.card().config().role, NicRole::Follower);
    dev.write32(user, regs::CONFIG_APPLY.offset.into(), 1)
        .unwrap();
    assert_eq!(dev.card().config().ballot, Ballot(0xBEEF));
    assert_eq!(dev.card().config().role, NicRole::Leader);
}

#[test]
fn configurations_the_registers_cannot_hold_are_refused() {
    let mut nic = board(0);
    let mut cfg = config(NicRole::Leader, B1, 1);
    cfg.window = u64::from(regs::MAX_WINDOW_SLOTS) + 1;
    assert!(matches!(
        nic.configure(&cfg),
        Err(BoardError::WindowTooLarge {
            window: 65,
            max: regs::MAX_WINDOW_SLOTS
        })
    ));
    cfg.window = u64::from(regs::MAX_WINDOW_SLOTS);
    nic.configure(&cfg).unwrap();
    cfg.window = 8;
    cfg.replicas = 9;
    assert!(matches!(
        nic.configure(&cfg),
        Err(BoardError::BadReplicaCount(9))
    ));
}

#[test]
fn a_submission_comes_back_as_accepted_and_goes_out_to_followers() {
    let mut nic = board(0);
    nic.configure(&config(NicRole::Leader, B1, 1)).unwrap();
    nic.command(NicCommand::Submit {
        value: b"put x 1".to_vec(),
    })
    .unwrap();
    assert_eq!(records(&mut nic), [accepted(B1, 1, b"put x 1")]);
    let out: Vec<u8> = std::iter::from_fn(|| nic.device_mut().card_mut().poll_transmit())
        .map(|(to, _)| to)
        .collect();
    assert_eq!(out, [1, 2], "an ACCEPT to each follower");
    assert_eq!(nic.counter(Counter::Submitted).unwrap(), 1);
    assert_eq!(nic.counter(Counter::TxAccept).unwrap(), 2);
    assert_eq!(nic.next_slot().unwrap(), 2);
    assert_eq!(
        nic.h2c_in_flight(),
        0,
        "the submission's descriptor was reaped"
    );
}

#[test]
fn follower_frames_become_accepted_committed_and_punted_records() {
    let mut nic = board(1);
    nic.enable(true).unwrap();
    nic.configure(&config(NicRole::Follower, B1, 1)).unwrap();
    let dev = nic.device_mut();
    dev.receive_frame(&frame(0, 1, accept(1, 0, b"a")));
    dev.receive_frame(&frame(0, 1, accept(2, 1, b"b")));
    let prepare = frame(
        2,
        1,
        Message::Prepare {
            ballot: B2,
            commit: 0,
            lives: vec![0; 3],
        },
    );
    dev.receive_frame(&prepare);
    assert_eq!(
        records(&mut nic),
        [
            accepted(B1, 1, b"a"),
            accepted(B1, 2, b"b"),
            CardToHost::Event(NicEvent::Committed {
                ballot: B1,
                commit: 1
            }),
            CardToHost::Punted(prepare),
        ]
    );
    assert_eq!(nic.next_slot().unwrap(), 3);
    assert_eq!(nic.counter(Counter::Accepted).unwrap(), 2);
    assert_eq!(nic.counter(Counter::PuntRare).unwrap(), 1);
}

#[test]
fn the_fence_writes_its_ballot_before_the_request_and_completes_after_earlier_records() {
    // A two-descriptor C2H ring holds the FenceDone record back behind the
    // records acked before it, as a busy stream would.
    let options = AlveoOptions {
        c2h: RingConfig {
            descriptors: 2,
            buffer_size: 4096,
        },
        ..AlveoOptions::default()
    };
    let mut nic = board_with(0, options);
    nic.configure(&config(NicRole::Leader, B1, 1)).unwrap();
    for v in [b"1", b"2", b"3"] {
        nic.command(NicCommand::Submit { value: v.to_vec() })
            .unwrap();
    }
    let start = nic.device().writes().len();
    nic.command(NicCommand::Fence { ballot: B2 }).unwrap();
    assert_eq!(
        user_writes(&nic, start),
        [
            ("FENCE_BALLOT_LO".to_string(), B2.0 as u32),
            ("FENCE_BALLOT_HI".to_string(), (B2.0 >> 32) as u32),
            ("FENCE_REQUEST".to_string(), 1),
        ]
    );
    assert_eq!(nic.device().card().fence(), B2);
    assert!(
        !nic.fence_done().unwrap(),
        "FenceDone is queued behind three records"
    );
    let mut seen = Vec::new();
    while let Some(record) = nic.poll_host().unwrap() {
        let done = nic.fence_done().unwrap();
        seen.push((record, done));
    }
    let fence_done = CardToHost::Event(NicEvent::FenceDone { ballot: B2 });
    assert_eq!(
        seen.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>(),
        [
            accepted(B1, 1, b"1"),
            accepted(B1, 2, b"2"),
            accepted(B1, 3, b"3"),
            fence_done
        ]
    );
    // FENCE_STATUS rose when FenceDone was written to host memory: after the
    // host freed a descriptor for it, never before the records ahead of it.
    assert_eq!(
        seen.iter().map(|(_, d)| *d).collect::<Vec<_>>(),
        [false, true, true, true]
    );
}

#[test]
fn the_fence_reaches_the_card_only_with_the_request_strobe() {
    let mut nic = board(0);
    let user = AlveoOptions::default().user_bar;
    let dev = nic.device_mut();
    dev.write32(user, regs::FENCE_BALLOT_LO.offset.into(), B2.0 as u32)
        .unwrap();
    dev.write32(user, regs::FENCE_BALLOT_HI.offset.into(), 0)
        .unwrap();
    assert_eq!(dev.card().fence(), Ballot::ZERO);
    dev.write32(user, regs::FENCE_REQUEST.offset.into(), 1)
        .unwrap();
    assert_eq!(dev.card().fence(), B2);
    assert!(nic.fence_done().unwrap());
    assert_eq!(
        records(&mut nic),
        [CardToHost::Event(NicEvent::FenceDone { ballot: B2 })]
    );
}

#[test]
fn a_raw_transmit_leaves_as_a_frame_to_its_replica() {
    let mut nic = board(0);
    let datagram = Envelope {
        group: GROUP,
        sender: 0,
        life: 0,
        message: Message::Prepare {
            ballot: B1,
            commit: 0,
            lives: vec![0; 3],
        },
    }
    .encode();
    nic.command(NicCommand::Transmit {
        to: 2,
        datagram: datagram.clone(),
    })
    .unwrap();
    let (to, out) = nic.device_mut().card_mut().poll_transmit().unwrap();
    assert_eq!(to, 2);
    let view = decode_frame(&out, UDP_PORT).unwrap();
    assert_eq!(view.datagram, datagram.as_slice());
    assert_eq!(nic.counter(Counter::TxRaw).unwrap(), 1);
}

#[test]
fn a_heartbeat_is_the_heartbeat_strobe_and_sends_commit_to_each_follower() {
    let mut nic = board(0);
    nic.configure(&config(NicRole::Leader, B1, 1)).unwrap();
    let before = nic.device().writes().len();
    nic.command(NicCommand::Heartbeat).unwrap();
    assert_eq!(user_writes(&nic, before), [("HEARTBEAT".to_string(), 1)]);
    let out: Vec<(u8, Message)> =
        std::iter::from_fn(|| nic.device_mut().card_mut().poll_transmit())
            .map(|(to, frame)| {
                let view = decode_frame(&frame, UDP_PORT).unwrap();
                (to, Envelope::decode(view.datagram, GROUP).unwrap().message)
            })
            .collect();
    let commit = Message::Commit {
        ballot: B1,
        commit: 0,
    };
    assert_eq!(out, [(1, commit.clone()), (2, commit)]);
}

#[test]
fn with_the_fast_path_disabled_the_board_punts_every_frame() {
    let mut nic = board(1);
    nic.configure(&config(NicRole::Follower, B1, 1)).unwrap();
    let f = frame(0, 1, accept(1, 0, b"a"));
    nic.device_mut().receive_frame(&f);
    assert_eq!(records(&mut nic), [CardToHost::Punted(f.clone())]);
    assert_eq!(nic.counter(Counter::PuntIdle).unwrap(), 1);
    nic.enable(true).unwrap();
    nic.device_mut().receive_frame(&f);
    assert_eq!(records(&mut nic), [accepted(B1, 1, b"a")]);
    assert_eq!(nic.counter(Counter::RxFrames).unwrap(), 2);
}

#[test]
fn every_counter_register_reads_the_cards_count() {
    let mut nic = board(0);
    nic.configure(&config(NicRole::Leader, B1, 1)).unwrap();
    for i in 0..3u8 {
        nic.command(NicCommand::Submit { value: vec![i] }).unwrap();
    }
    nic.fence(B2).unwrap();
    let counters = nic.counters().unwrap();
    assert_eq!(counters.len(), Counter::COUNT);
    for (i, (counter, value)) in counters.iter().enumerate() {
        assert_eq!(counter.index(), i);
        let model = nic.device().card().counters().get(*counter) as u32;
        assert_eq!(*value, model, "{}", counter.name());
    }
    let get = |c: Counter| counters.iter().find(|(k, _)| *k == c).unwrap().1;
    assert_eq!(get(Counter::Submitted), 3);
    assert_eq!(get(Counter::FenceDone), 1);
}

/// A leader board that submits "x" then "y" with `fault` injected on the
/// card-to-host side: the fault costs "x"'s record, and "y"'s must arrive.
fn two_submits_after(fault: Fault) -> Board {
    let mut nic = board(0);
    nic.configure(&config(NicRole::Leader, B1, 1)).unwrap();
    nic.device_mut().inject(fault);
    for value in [b"x", b"y"] {
        nic.command(NicCommand::Submit {
            value: value.to_vec(),
        })
        .unwrap();
    }
    assert_eq!(records(&mut nic), [accepted(B1, 2, b"y")]);
    nic
}

#[test]
fn a_malformed_record_is_counted_and_dropped() {
    let nic = two_submits_after(Fault::CorruptRecord);
    assert_eq!(nic.stats().malformed_records, 1);
    assert_eq!(
        nic.stats().last_malformed,
        Some(RecordError::UnknownKind(0xEE))
    );
}

#[test]
fn a_corrupt_writeback_costs_one_record_not_the_stream() {
    let nic = two_submits_after(Fault::BadWriteback);
    assert_eq!(nic.stats().bad_descriptors, 1);
}

#[test]
fn completions_raise_an_interrupt_that_wakes_the_waiter_once() {
    let mut nic = board(0);
    nic.configure(&config(NicRole::Leader, B1, 1)).unwrap();
    assert_eq!(nic.wait(Duration::ZERO).unwrap(), Wake::Timeout);
    nic.command(NicCommand::Submit {
        value: b"x".to_vec(),
    })
    .unwrap();
    assert_eq!(nic.wait(Duration::ZERO).unwrap(), Wake::Interrupt);
    assert_eq!(nic.wait(Duration::ZERO).unwrap(), Wake::Timeout);
    assert_eq!(records(&mut nic), [accepted(B1, 1, b"x")]);
}

#[test]
fn an_engine_fault_surfaces_from_wait_as_a_typed_error() {
    let mut nic = board(0);
    nic.configure(&config(NicRole::Leader, B1, 1)).unwrap();
    nic.device_mut().inject(Fault::BadMagic(Direction::H2c));
    nic.command(NicCommand::Submit {
        value: b"x".to_vec(),
    })
    .unwrap();
    let e = nic.wait(Duration::ZERO).unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, BoardError::Xdma(XdmaError::Engine { .. })),
        "{e:?}"
    );
    assert!(
        text.contains("H2C channel 0 stopped") && text.contains("magic"),
        "{text}"
    );
    assert!(nic.check_engines().is_err(), "the engine stays stopped");
}

#[test]
fn many_submissions_wrap_both_rings_without_loss() {
    let small = RingConfig {
        descriptors: 4,
        buffer_size: 128,
    };
    let options = AlveoOptions {
        h2c: small,
        c2h: small,
        ..AlveoOptions::default()
    };
    let mut nic = board_with(0, options);
    // A full window of entries, each ring of 4 wrapping 16 times.
    let entries = regs::MAX_WINDOW_SLOTS;
    let mut cfg = config(NicRole::Leader, B1, 1);
    cfg.window = entries.into();
    nic.configure(&cfg).unwrap();
    let mut got = Vec::new();
    for i in 0..entries {
        let value = i.to_le_bytes().repeat(1 + (i as usize % 40));
        nic.command(NicCommand::Submit { value }).unwrap();
        if i % 3 == 0 {
            got.extend(records(&mut nic));
        }
    }
    got.extend(records(&mut nic));
    let expected: Vec<CardToHost> = (0..entries)
        .map(|i| {
            accepted(
                B1,
                u64::from(i) + 1,
                &i.to_le_bytes().repeat(1 + (i as usize % 40)),
            )
        })
        .collect();
    assert_eq!(got, expected);
    assert_eq!(
        nic.stats().malformed_records + nic.stats().bad_descriptors,
        0
    );
}

#[test]
fn the_peer_table_holds_each_address_big_endian() {
    let mut nic = board(0);
    let peer = Endpoint {
        mac: [0x02, 0x52, 0x54, 0xAA, 0xBB, 0xCC],
        ip: [10, 0, 0, 3],
        port: 7100,
    };
    nic.set_peer(2, &peer).unwrap();
    let at = |name: &str| {
        let field = regs::PEER_FIELDS.iter().find(|f| f.name == name).unwrap();
        nic.device()
            .register(regs::peer_register(2, field).unwrap())
    };
    assert_eq!(at("PEER_MAC_LO"), 0x54AA_BBCC);
    assert_eq!(at("PEER_MAC_HI"), 0x0252);
    assert_eq!(at("PEER_IP"), 0x0A00_0003);
    assert_eq!(at("PEER_PORT"), 7100);
    assert!(matches!(
        nic.set_peer(regs::MAX_REPLICAS, &peer),
        Err(BoardError::NoSuchPeer(8))
    ));
    nic.set_identity(2, GROUP).unwrap();
    assert_eq!(nic.device().register(regs::CFG_GROUP_ID.offset), 7);
}

#[test]
fn open_arms_the_host_watchdog_in_core_cycles() {
    let mut nic = board(0);
    // 100 ms of the 322.265625 MHz core clock.
    assert_eq!(
        nic.device().register(regs::HOST_WATCHDOG.offset),
        32_226_562
    );
    assert!(!nic.host_watchdog_expired().unwrap());
    let from = nic.device().writes().len();
    nic.set_host_watchdog(Duration::ZERO).unwrap();
    nic.set_host_watchdog(Duration::from_nanos(1)).unwrap();
    nic.set_host_watchdog(Duration::from_secs(3600)).unwrap();
    assert_eq!(
        user_writes(&nic, from),
        vec![
            ("HOST_WATCHDOG".to_string(), 0),
            ("HOST_WATCHDOG".to_string(), 1),
            ("HOST_WATCHDOG".to_string(), u32::MAX),
        ]
    );
    let off = AlveoOptions {
        host_watchdog: Duration::ZERO,
        ..AlveoOptions::default()
    };
    let nic = board_with(0, off);
    assert_eq!(nic.device().register(regs::HOST_WATCHDOG.offset), 0);
}
