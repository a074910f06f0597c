//! Start states for a search: a search may begin where a prefix of steps
//! leaves the group (`--from`), so its depth goes to the part of a run the
//! prefix does not fix. The prefix is a file of steps, as a counterexample's
//! (`trace.rs`); [`election_and_write`] writes the common one.

use riptide_control::Role;

use crate::bounds::Bounds;
use crate::world::{Action, Outcome, World};

/// Rounds the driver gives an election before it gives up.
const ELECTION_ROUNDS: usize = 8;

/// Steps that elect `leader` and have it take client 0's write: a tick,
/// then rounds in which every frame in flight is delivered once (each
/// NIC's host taking its records at once), until `leader` leads; then the
/// write, and the leader's host taking what its NIC reported. The ACCEPTs
/// the NIC sent are left in flight. `None` if no such run exists within
/// `bounds` (every step is checked, as in a search).
pub fn election_and_write(bounds: &Bounds, leader: u8) -> Option<Vec<Action>> {
    let mut driver = Driver {
        world: World::initial(bounds),
        actions: Vec::new(),
        bounds,
    };
    driver.take(Action::Tick(leader))?;
    for _ in 0..ELECTION_ROUNDS {
        if driver.world.nodes[usize::from(leader)].role() == Role::Leader {
            break;
        }
        let frames: Vec<_> = driver.world.network.iter().cloned().collect();
        for frame in frames {
            if let Some(i) = driver.world.network.iter().position(|f| *f == frame) {
                driver.take(Action::Deliver(i))?;
                driver.drain(frame.to)?;
            }
        }
        for r in 0..bounds.replicas {
            driver.drain(r)?;
        }
    }
    if driver.world.nodes[usize::from(leader)].role() != Role::Leader {
        return None;
    }
    driver.take(Action::Client {
        client: 0,
        replica: leader,
    })?;
    driver.drain(leader)?;
    Some(driver.actions)
}

struct Driver<'a> {
    world: World,
    actions: Vec<Action>,
    bounds: &'a Bounds,
}

impl Driver<'_> {
    fn take(&mut self, action: Action) -> Option<()> {
        match self.world.apply(self.bounds, action) {
            Outcome::Next(next) => {
                self.world = *next;
                self.actions.push(action);
                Some(())
            }
            Outcome::OutOfBounds | Outcome::Violation(_) => None,
        }
    }

    /// Replica `r`'s host takes every record its NIC wrote.
    fn drain(&mut self, r: u8) -> Option<()> {
        while !self.world.nodes[usize::from(r)].to_host.is_empty() {
            self.take(Action::Host(r))?;
        }
        Some(())
    }
}
