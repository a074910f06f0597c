//! The RTL core as the card behind the driver's fake Alveo board: with
//! [`rtl_board`], host software drives riptide_core through the real driver
//! (`AlveoNic`: registers, XDMA rings) and the fake XDMA engines, while frames
//! enter and leave through the core's network ports beat by beat (the MAC
//! model of [`RtlNic`]).
//!
//! Clocking: every interaction (a command, a frame, a poll) runs the core
//! until its streams have been quiet for a while, so everything a frame or
//! command causes is out before the caller moves on.

use crate::sim::RtlNic;
use riptide_driver::Nic;
use riptide_driver::pcie::{BoardError, CardLogic, SimulatedBoard};
use riptide_wire::frame::Endpoint;
use riptide_wire::host::{CardToHost, NicCommand};
use riptide_wire::records::RecordError;
use riptide_wire::regs::{self, Counter};

/// [`RtlNic`] as a card: a [`Nic`] whose polls do not clock the core again
/// once it is known to be quiet, and which counts (rather than passes on)
/// card-to-host packets that are not records.
pub struct RtlCard {
    rtl: RtlNic,
    /// Polling a stream that came up empty since the last input would only
    /// clock an idle core for nothing (an empty poll runs the core until
    /// quiet, and this card has no timers: `HEARTBEAT_INTERVAL` stays 0).
    transmit_empty: bool,
    host_empty: bool,
    malformed: u64,
    last_malformed: Option<RecordError>,
}

impl RtlCard {
    /// The core of replica `id` in group `group`, with every replica's
    /// address (indexed by id). `name` names its VCD trace, if traced.
    pub fn new(name: &str, id: u8, group: u16, peers: Vec<Endpoint>) -> RtlCard {
        RtlCard {
            rtl: RtlNic::new(name, id, group, peers),
            transmit_empty: false,
            host_empty: false,
            malformed: 0,
            last_malformed: None,
        }
    }

    pub fn rtl(&mut self) -> &mut RtlNic {
        self.inputs_changed();
        &mut self.rtl
    }

    pub fn cycles(&self) -> u64 {
        self.rtl.cycles()
    }

    /// Card-to-host packets the core emitted that do not decode as records
    /// (a hardware bug if ever non-zero), and the last one's reason.
    pub fn malformed(&self) -> (u64, Option<&RecordError>) {
        (self.malformed, self.last_malformed.as_ref())
    }

    fn inputs_changed(&mut self) {
        self.transmit_empty = false;
        self.host_empty = false;
    }
}

impl Nic for RtlCard {
    fn command(&mut self, command: NicCommand) {
        self.inputs_changed();
        self.rtl.command(command);
    }

    fn receive(&mut self, frame: &[u8]) {
        self.inputs_changed();
        self.rtl.receive(frame);
    }

    fn poll_transmit(&mut self) -> Option<(u8, Vec<u8>)> {
        if self.transmit_empty {
            return None;
        }
        let frame = self.rtl.poll_transmit();
        self.transmit_empty = frame.is_none();
        frame
    }

    fn poll_host(&mut self) -> Option<CardToHost> {
        if self.host_empty {
            return None;
        }
        loop {
            match self.rtl.poll_record() {
                Some(Ok(record)) => return Some(record),
                Some(Err(e)) => {
                    self.malformed += 1;
                    self.last_malformed = Some(e);
                }
                None => {
                    self.host_empty = true;
                    return None;
                }
            }
        }
    }
}

impl CardLogic for RtlCard {
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
    let card = RtlCard::new(name, id, group, peers.clone());
    SimulatedBoard::open(card, id, group, &peers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use riptide_driver::model::ModelNic;
    use riptide_wire::frame::{decode_frame, encode_frame};
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
        }
    }

    fn frame(from: u8, to: u8, message: Message) -> Vec<u8> {
        let datagram = Envelope {
            group: GROUP,
            sender: from,
            message,
        }
        .encode();
        encode_frame(
            &ModelNic::default_endpoint(from),
            &ModelNic::default_endpoint(to),
            &datagram,
        )
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
        board.command(NicCommand::Configure(leader_config()));
        board.command(NicCommand::Submit {
            value: b"put x 1".to_vec(),
        });
        let accept = Message::Accept {
            ballot: B1,
            slot: 1,
            commit: 0,
            value: b"put x 1".to_vec(),
        };
        assert_eq!(messages(&mut board), [(1, accept.clone()), (2, accept)]);
        assert_eq!(
            board.poll_host(),
            Some(CardToHost::Event(NicEvent::Accepted {
                ballot: B1,
                slot: 1,
                value: b"put x 1".to_vec(),
            }))
        );
        assert_eq!(board.poll_host(), None);
        let ack = Message::Accepted {
            ballot: B1,
            slot: 1,
        };
        board.receive(&frame(2, 0, ack));
        assert_eq!(
            board.poll_host(),
            Some(CardToHost::Event(NicEvent::Committed {
                ballot: B1,
                commit: 1,
            }))
        );
        assert_eq!(board.driver().commit().unwrap(), 1);
        assert_eq!(board.driver().next_slot().unwrap(), 2);
        assert_eq!(board.driver().counter(Counter::Submitted).unwrap(), 1);
        assert_eq!(board.errors().0, 0);
        assert_eq!(board.card().malformed().0, 0);
    }

    #[test]
    fn a_heartbeat_through_the_driver_strobes_the_cores_register() {
        let mut board = rtl_board("card_heartbeat", 0, GROUP, peers()).unwrap();
        board.command(NicCommand::Configure(leader_config()));
        board.command(NicCommand::Heartbeat);
        let commit = Message::Commit {
            ballot: B1,
            commit: 0,
        };
        assert_eq!(messages(&mut board), [(1, commit.clone()), (2, commit)]);
    }
}
