//! `SimulatedBoard`: the driver over the fake board as one `Nic`, as the
//! cluster simulator uses it (here with the behavioural model as the card):
//! commands and records go through `AlveoNic` and the XDMA rings, frames
//! straight to the card, and failures the `Nic` interface cannot return are
//! counted in `Nic::faults`.

use riptide_driver::Nic;
use riptide_driver::model::{ModelBugs, ModelNic};
use riptide_driver::pcie::{BoardError, Fault, SimulatedBoard};
use riptide_wire::Ballot;
use riptide_wire::host::{CardToHost, NicCommand, NicConfig, NicEvent, NicRole};
use riptide_wire::regs::Counter;

const GROUP: u16 = 7;
const B1: Ballot = Ballot::new(1, 0);

fn board() -> SimulatedBoard<ModelNic> {
    let peers: Vec<_> = (0..3).map(ModelNic::default_endpoint).collect();
    let card = ModelNic::with_peers(0, GROUP, peers.clone(), ModelBugs::default());
    SimulatedBoard::open(card, 0, GROUP, &peers).unwrap()
}

fn leader(window: u64) -> NicCommand {
    NicCommand::Configure(NicConfig {
        role: NicRole::Leader,
        ballot: B1,
        next_slot: 1,
        commit: 0,
        replicas: 3,
        window,
        lives: Default::default(),
    })
}

fn submit(value: &[u8]) -> NicCommand {
    NicCommand::Submit {
        value: value.to_vec(),
    }
}

#[test]
fn commands_go_through_the_driver_and_frames_through_the_card() {
    let mut board = board();
    board.command(leader(16));
    board.command(submit(b"v"));
    let sent: Vec<u8> = std::iter::from_fn(|| board.poll_transmit())
        .map(|(to, _)| to)
        .collect();
    assert_eq!(sent, [1, 2]);
    assert_eq!(
        board.poll_host(),
        Some(CardToHost::Event(NicEvent::Accepted {
            ballot: B1,
            slot: 1,
            value: b"v".to_vec(),
        }))
    );
    assert_eq!(board.poll_host(), None);
    assert_eq!(board.driver().counter(Counter::Submitted).unwrap(), 1);
    assert_eq!(board.driver().h2c_in_flight(), 0);
    assert_eq!(board.faults(), 0);
}

#[test]
fn a_command_the_driver_refuses_is_a_counted_fault() {
    let mut board = board();
    board.command(leader(1 << 20));
    assert_eq!(board.faults(), 1);
    assert!(matches!(
        board.errors(),
        (1, Some(BoardError::WindowTooLarge { .. }))
    ));
}

#[test]
fn a_record_the_driver_drops_is_a_counted_fault() {
    let mut board = board();
    board.command(leader(16));
    board.driver().device_mut().inject(Fault::CorruptRecord);
    board.command(submit(b"lost"));
    board.command(submit(b"kept"));
    let records: Vec<CardToHost> = std::iter::from_fn(|| board.poll_host()).collect();
    assert_eq!(
        records,
        [CardToHost::Event(NicEvent::Accepted {
            ballot: B1,
            slot: 2,
            value: b"kept".to_vec(),
        })]
    );
    assert_eq!(board.faults(), 1);
}
