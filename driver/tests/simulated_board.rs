//! `SimulatedBoard`: the driver over the fake board as one `SimulatedNic`, as
//! the cluster simulator uses it (here with the behavioural model as the
//! card): commands and records go through `AlveoNic` and the XDMA rings,
//! frames straight to the card, and a failure is the `NicError` of the call
//! where it happened.

use riptide_driver::model::{ModelBugs, ModelNic};
use riptide_driver::pcie::{BoardError, Fault, SimulatedBoard};
use riptide_driver::{NicError, NicHost, NicWire};
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
    board.command(leader(16)).unwrap();
    board.command(submit(b"v")).unwrap();
    let sent: Vec<u8> = std::iter::from_fn(|| board.poll_transmit())
        .map(|(to, _)| to)
        .collect();
    assert_eq!(sent, [1, 2]);
    assert_eq!(
        board.poll_host().unwrap(),
        Some(CardToHost::Event(NicEvent::Accepted {
            ballot: B1,
            slot: 1,
            value: b"v".to_vec(),
        }))
    );
    assert_eq!(board.poll_host().unwrap(), None);
    assert_eq!(board.driver().counter(Counter::Submitted).unwrap(), 1);
    assert_eq!(board.driver().h2c_in_flight(), 0);
}

#[test]
fn a_command_the_driver_refuses_is_the_commands_error() {
    let mut board = board();
    let error = board.command(leader(1 << 20)).unwrap_err();
    assert!(
        matches!(error, NicError::Driver(BoardError::WindowTooLarge { .. })),
        "{error}"
    );
}

#[test]
fn a_record_the_driver_drops_is_the_polls_error_and_the_next_record_still_comes() {
    let mut board = board();
    board.command(leader(16)).unwrap();
    board.driver().device_mut().inject(Fault::CorruptRecord);
    board.command(submit(b"lost")).unwrap();
    board.command(submit(b"kept")).unwrap();
    let error = board.poll_host().unwrap_err();
    assert!(
        matches!(
            error,
            NicError::DroppedByDriver {
                malformed_records: 1,
                bad_descriptors: 0
            }
        ),
        "{error}"
    );
    assert_eq!(
        board.poll_host().unwrap(),
        Some(CardToHost::Event(NicEvent::Accepted {
            ballot: B1,
            slot: 2,
            value: b"kept".to_vec(),
        }))
    );
    assert_eq!(board.poll_host().unwrap(), None);
}

#[test]
fn a_descriptor_rewritten_while_the_engine_owns_it_is_the_next_calls_error() {
    use riptide_driver::pcie::board::DEFAULT_DMA_BAR;
    use riptide_driver::pcie::device::{DmaBuffer, PcieDevice};
    use riptide_driver::pcie::fake::Violation;
    use riptide_driver::pcie::xdma::{DESCRIPTOR_LEN, Direction, Engine, reg};
    let mut board = board();
    board.command(leader(16)).unwrap();
    // The C2H engine fetched its credited descriptors when the board opened;
    // a driver that rewrote one of them now would not be seen by it.
    let device = board.driver().device_mut();
    let c2h = Engine::new(Direction::C2h, 0);
    let lo = device.read32(DEFAULT_DMA_BAR, c2h.sgdma_reg(reg::DESC_LO));
    let hi = device.read32(DEFAULT_DMA_BAR, c2h.sgdma_reg(reg::DESC_HI));
    let first = u64::from(lo.unwrap()) | u64::from(hi.unwrap()) << 32;
    let raw = device.peek(first, DESCRIPTOR_LEN).unwrap();
    device
        .dma_write(&DmaBuffer::new(first, DESCRIPTOR_LEN), 0, &raw)
        .unwrap();
    let error = board.command(submit(b"v")).unwrap_err();
    assert!(
        matches!(
            error,
            NicError::Xdma(Violation::DescriptorRewritten {
                direction: Direction::C2h,
                iova,
            }) if iova == first
        ),
        "{error}"
    );
    assert!(
        matches!(
            board.poll_host().unwrap(),
            Some(CardToHost::Event(NicEvent::Accepted { .. }))
        ),
        "reported once; the board goes on"
    );
}
