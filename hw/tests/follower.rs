//! Whole-core tests of the follower path against the behavioural model.

mod common;

use common::{Pair, config, frame};
use riptide_wire::host::{CardToHost, NicCommand, NicEvent, NicRole};
use riptide_wire::regs::Counter;
use riptide_wire::{Ballot, Message};

const B: Ballot = Ballot::new(2, 0);

fn accept(slot: u64, commit: u64, value: &[u8]) -> Vec<u8> {
    frame(
        0,
        1,
        Message::Accept {
            ballot: B,
            slot,
            commit,
            value: value.to_vec(),
        },
    )
}

fn follower(name: &str) -> Pair {
    let mut pair = Pair::new(name, 1, 3);
    pair.command(NicCommand::Configure(config(NicRole::Follower, B, 1, 3)));
    pair
}

#[test]
fn in_order_accept_is_written_to_the_host_and_acked() {
    let mut pair = follower("follower_in_order");
    pair.receive(&accept(1, 0, b"put x 1"));
    let out = pair.agree("first accept");
    assert_eq!(
        out.records,
        vec![CardToHost::Event(NicEvent::Accepted {
            ballot: B,
            slot: 1,
            value: b"put x 1".to_vec()
        })]
    );
    assert_eq!(out.frames.len(), 1);
    assert_eq!(out.frames[0].0, 0, "ACCEPTED goes back to the leader");
    pair.counters_agree("after one accept");
    assert_eq!(pair.counter(Counter::Accepted), 1);
}
