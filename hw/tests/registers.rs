//! The AXI4-Lite register file through the core: identity, staged
//! configuration, the peer table, live state, the fence handshake.

mod common;

use common::{GROUP, peers};
use riptide_hw::sim::RtlNic;
use riptide_wire::host::{CardToHost, NicCommand, NicEvent};
use riptide_wire::regs::{self, Counter};
use riptide_wire::{Ballot, layout};

#[test]
fn identity_configuration_and_peer_table_read_back() {
    let mut nic = RtlNic::new("registers", 2, GROUP, peers(5));
    assert_eq!(nic.read(regs::ID.offset), regs::ID_VALUE);
    assert_eq!(
        nic.read(regs::VERSION.offset),
        u32::from(layout::VERSION) << 16 | regs::REGMAP_REVISION
    );
    assert_eq!(nic.read(regs::CFG_REPLICA_ID.offset), 2);
    assert_eq!(nic.read(regs::CFG_GROUP_ID.offset), u32::from(GROUP));
    let ip = regs::peer_register(4, &regs::PEER_FIELDS[2]).expect("in table");
    assert_eq!(nic.read(ip), u32::from_be_bytes(peers(5)[4].ip));
    nic.write(regs::CFG_WINDOW.offset, 9);
    assert_eq!(nic.read(regs::CFG_WINDOW.offset), 9);
    assert_eq!(nic.read(regs::MAX_WINDOW.offset), regs::MAX_WINDOW_SLOTS);
    nic.write(regs::CFG_LIVES_LO.offset, 0x0403_0201);
    nic.write(regs::CFG_LIVES_HI.offset, 0x0807_0605);
    assert_eq!(nic.read(regs::CFG_LIVES_LO.offset), 0x0403_0201);
    assert_eq!(nic.read(regs::CFG_LIVES_HI.offset), 0x0807_0605);
    assert_eq!(nic.read(regs::HOST_WATCHDOG.offset), 0, "off after reset");
    nic.write(regs::HOST_WATCHDOG.offset, 12345);
    assert_eq!(nic.read(regs::HOST_WATCHDOG.offset), 12345);
    assert_eq!(nic.read(regs::HOST_WATCHDOG_STATUS.offset), 0);
    assert_eq!(nic.read(0xFFC), 0, "unmapped reads 0");
    assert_eq!(nic.read(Counter::RxFrames.offset()), 0);
}

#[test]
fn reads_issued_back_to_back_are_answered_one_per_cycle_in_order() {
    let mut nic = RtlNic::new("registers_burst", 3, GROUP, peers(5));
    let offsets = [
        regs::ID.offset,
        regs::CFG_REPLICA_ID.offset,
        regs::MAX_WINDOW.offset,
        regs::CFG_REPLICAS.offset,
    ];
    let before = nic.cycles();
    let values = nic.read_many(&offsets);
    assert_eq!(values, vec![regs::ID_VALUE, 3, regs::MAX_WINDOW_SLOTS, 5]);
    // One per cycle, each answered two cycles after it is taken (the
    // address, then the register groups' values, are registered).
    assert_eq!(nic.cycles() - before, offsets.len() as u64 + 3);
}

#[test]
fn live_next_slot_reads_as_one_64_bit_value() {
    let mut nic = RtlNic::new("registers_live", 1, GROUP, peers(3));
    let next = 0x0000_0001_FFFF_FFFF_u64;
    nic.write(regs::CFG_NEXT_SLOT_LO.offset, next as u32);
    nic.write(regs::CFG_NEXT_SLOT_HI.offset, (next >> 32) as u32);
    nic.write(regs::CFG_COMMIT_LO.offset, 7);
    nic.write(regs::CONFIG_APPLY.offset, 1);
    let lo = nic.read(regs::NEXT_SLOT_LO.offset);
    let hi = nic.read(regs::NEXT_SLOT_HI.offset);
    assert_eq!(u64::from(hi) << 32 | u64::from(lo), next);
    assert_eq!(nic.read(regs::COMMIT_LO.offset), 7);
}

#[test]
fn fence_handshake_reports_done_after_its_record() {
    let mut nic = RtlNic::new("registers_fence", 1, GROUP, peers(3));
    assert_eq!(nic.read(regs::FENCE_STATUS.offset), 0);
    let ballot = Ballot::new(9, 1);
    nic.command(NicCommand::Fence { ballot });
    assert_eq!(
        nic.poll_record().map(|r| r.expect("well-formed")),
        Some(CardToHost::Event(NicEvent::FenceDone { ballot }))
    );
    assert_eq!(nic.read(regs::FENCE_STATUS.offset), 1);
    assert_eq!(nic.counter(Counter::FenceDone), 1);
}
