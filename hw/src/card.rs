//! The RTL core as the card behind the driver's fake Alveo board: with
//! [`rtl_board`], host software drives riptide_core through the real driver
//! (`AlveoNic`: registers, XDMA rings) and the fake XDMA engines, while frames
//! enter and leave through the core's network ports beat by beat (the MAC
//! model of [`RtlNic`]).
//!
//! Clocking: after every input (a command, a frame) the core runs until
//! nothing is in flight in it (`RtlNic::drain`), so everything the input
//! causes is out before the caller polls; polls do not clock the core further.

use crate::ports::{CorePorts, HdlCore};
use crate::sim::RtlNic;
use riptide_driver::NicWire;
use riptide_driver::pcie::{BoardError, CardLogic, SimulatedBoard};
use riptide_wire::frame::Endpoint;
use riptide_wire::host::{CardToHost, NicCommand};
use riptide_wire::records::RecordError;
use riptide_wire::regs::{self, Counter};

/// [`RtlNic`] as a card: clocks the core once per input (not once more per
/// empty poll), and hands card-to-host packets that are not records to the
/// fake board as faults, which report them to the host.
pub struct RtlCard<C: CorePorts = HdlCore> {
    rtl: RtlNic<C>,
    /// An input went in since the core last ran until quiet.
    dirty: bool,
    /// Frames and records taken from the core's queues. The core's timing
    /// log counts every packet that crossed each stream, so the difference is
    /// what is queued: an empty queue is known without polling it, which in
    /// `RtlNic` would clock the core until quiet once more.
    frames_taken: usize,
    records_taken: usize,
}

impl RtlCard {
    /// The RustHDL core of replica `id` in group `group`, with every
    /// replica's address (indexed by id). `name` names its VCD trace, if traced.
    pub fn new(name: &str, id: u8, group: u16, peers: Vec<Endpoint>) -> RtlCard {
        RtlCard::on(HdlCore::new(name), id, group, peers)
    }
}

impl<C: CorePorts> RtlCard<C> {
    /// `core` as the card of replica `id` (see [`RtlCard::new`]).
    pub fn on(core: C, id: u8, group: u16, peers: Vec<Endpoint>) -> RtlCard<C> {
        RtlCard {
            rtl: RtlNic::on(core, id, group, peers),
            dirty: false,
            frames_taken: 0,
            records_taken: 0,
        }
    }

    pub fn cycles(&self) -> u64 {
        self.rtl.cycles()
    }

    /// Runs the core until quiet if an input went in since it last was.
    fn settle(&mut self) {
        if std::mem::take(&mut self.dirty) {
            self.rtl.drain();
        }
    }
}

impl<C: CorePorts> NicWire for RtlCard<C> {
    fn receive(&mut self, frame: &[u8]) {
        self.rtl.receive(frame);
        self.dirty = true;
    }

    fn poll_transmit(&mut self) -> Option<(u8, Vec<u8>)> {
        self.settle();
        if self.frames_taken == self.rtl.timing().tx.len() {
            return None;
        }
        let frame = self.rtl.poll_transmit()?;
        self.frames_taken += 1;
        Some(frame)
    }
}

impl<C: CorePorts> CardLogic for RtlCard<C> {
    /// Carried out to completion (`RtlNic::command` runs the core until quiet).
    fn take_command(&mut self, command: NicCommand) {
        self.rtl.command(command);
    }

    fn next_record(&mut self) -> Option<Result<CardToHost, RecordError>> {
        self.settle();
        if self.records_taken == self.rtl.timing().c2h.len() {
            return None;
        }
        self.records_taken += 1;
        self.rtl.poll_record()
    }

    /// Read like the host reads them: low half first, which latches the high.
    fn live(&mut self) -> (u64, u64) {
        let mut pair = |lo: regs::Register, hi: regs::Register| {
            let low = self.rtl.read(lo.offset);
            u64::from(low) | u64::from(self.rtl.read(hi.offset)) << 32
        };
        let next_slot = pair(regs::NEXT_SLOT_LO, regs::NEXT_SLOT_HI);
        let commit = pair(regs::COMMIT_LO, regs::COMMIT_HI);
        (next_slot, commit)
    }

    fn counter(&mut self, counter: Counter) -> u32 {
        self.rtl.counter(counter)
    }
}

/// Replica `id`'s NIC as the RTL on a simulated Alveo board, opened and
/// programmed through the driver: identity, peer table, fast path enabled.
pub fn rtl_board(
    name: &str,
    id: u8,
    group: u16,
    peers: Vec<Endpoint>,
) -> Result<SimulatedBoard<RtlCard>, BoardError> {
    board_on(HdlCore::new(name), id, group, peers)
}

/// `core` as replica `id`'s card on a simulated Alveo board, opened and
/// programmed through the driver like [`rtl_board`]'s.
pub fn board_on<C: CorePorts>(
    core: C,
    id: u8,
    group: u16,
    peers: Vec<Endpoint>,
) -> Result<SimulatedBoard<RtlCard<C>>, BoardError> {
    let card = RtlCard::on(core, id, group, peers.clone());
    SimulatedBoard::open(card, id, group, &peers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use riptide_driver::NicHost;
    use riptide_driver::model::ModelNic;
    use riptide_wire::frame::decode_frame;
    use riptide_wire::host::{NicConfig, NicEvent, NicRole};
    use riptide_wire::layout::UDP_PORT;
    use riptide_wire::{Ballot, Envelope, Message};

    const GROUP: u16 = 7;
    const B1: Ballot = Ballot::new(1, 0);

    fn peers() -> Vec<Endpoint> {
        (0..3).map(ModelNic::default_endpoint).collect()
    }

    fn leader_config() -> NicConfig {
        NicConfig {
            role: NicRole::Leader,
            ballot: B1,
            next_slot: 1,
            commit: 0,
            replicas: 3,
            window: 16,
            lives: Default::default(),
        }
    }

    fn frame(from: u8, to: u8, message: Message) -> Vec<u8> {
        ModelNic::default_frame(GROUP, from, to, message)
    }

    fn messages(board: &mut SimulatedBoard<RtlCard>) -> Vec<(u8, Message)> {
        std::iter::from_fn(|| board.poll_transmit())
            .map(|(to, frame)| {
                let view = decode_frame(&frame, UDP_PORT).unwrap();
                (to, Envelope::decode(view.datagram, GROUP).unwrap().message)
            })
            .collect()
    }

    #[test]
    fn a_submission_through_the_driver_is_accepted_sent_and_committed_on_a_quorum() {
        let mut board = rtl_board("card_submit", 0, GROUP, peers()).unwrap();
        board
            .command(NicCommand::Configure(leader_config()))
            .unwrap();
        board
            .command(NicCommand::Submit {
                value: b"put x 1".to_vec(),
            })
            .unwrap();
        let accept = Message::Accept {
            ballot: B1,
            slot: 1,
            commit: 0,
            value: b"put x 1".to_vec(),
        };
        assert_eq!(messages(&mut board), [(1, accept.clone()), (2, accept)]);
        assert_eq!(
            board.poll_host().unwrap(),
            Some(CardToHost::Event(NicEvent::Accepted {
                ballot: B1,
                slot: 1,
                value: b"put x 1".to_vec(),
            }))
        );
        assert_eq!(board.poll_host().unwrap(), None);
        let ack = Message::Accepted {
            ballot: B1,
            slot: 1,
        };
        board.receive(&frame(2, 0, ack));
        assert_eq!(
            board.poll_host().unwrap(),
            Some(CardToHost::Event(NicEvent::Committed {
                ballot: B1,
                commit: 1,
            }))
        );
        assert_eq!(board.driver().commit().unwrap(), 1);
        assert_eq!(board.driver().next_slot().unwrap(), 2);
        assert_eq!(board.driver().counter(Counter::Submitted).unwrap(), 1);
    }

    #[test]
    fn a_heartbeat_through_the_driver_strobes_the_cores_register() {
        let mut board = rtl_board("card_heartbeat", 0, GROUP, peers()).unwrap();
        board
            .command(NicCommand::Configure(leader_config()))
            .unwrap();
        board.command(NicCommand::Heartbeat).unwrap();
        let commit = Message::Commit {
            ballot: B1,
            commit: 0,
        };
        assert_eq!(messages(&mut board), [(1, commit.clone()), (2, commit)]);
    }
}
