//! A simulated board as a [`crate::SimulatedNic`]: the host side goes through the driver
//! that runs on a real board ([`AlveoNic`]: registers, XDMA descriptor rings)
//! into the fake XDMA engines ([`FakeDevice`]); the network side goes
//! straight to the card's ports, which a real board's MAC would feed.
//!
//! This is how the cluster simulator runs host software against the RTL
//! (`riptide_hw::card::rtl_board`), or against the model through the driver.

use super::board::{AlveoNic, AlveoOptions, BoardError};
use super::fake::{CardLogic, FakeDevice};
use crate::{NicError, NicHost, NicWire};
use riptide_wire::frame::Endpoint;
use riptide_wire::host::{CardToHost, NicCommand};

/// The driver over a fake board around card `C`.
pub struct SimulatedBoard<C: CardLogic> {
    driver: AlveoNic<FakeDevice<C>>,
    /// A good record that came out of the same poll as a drop: the drop is
    /// reported first, the record by the next poll.
    held: Option<CardToHost>,
    /// XDMA violations of the fake engines already reported.
    violations_reported: usize,
}

impl<C: CardLogic> SimulatedBoard<C> {
    /// Opens the driver on a fake board around `card` and programs it as
    /// replica `id` of group `group` the way host software programs a real
    /// board: identity, every replica's address, fast path on.
    pub fn open(
        card: C,
        id: u8,
        group: u16,
        peers: &[Endpoint],
    ) -> Result<SimulatedBoard<C>, BoardError> {
        let mut driver = AlveoNic::open(FakeDevice::new(card), AlveoOptions::default())?;
        driver.set_identity(id, group)?;
        for (replica, endpoint) in peers.iter().enumerate() {
            driver.set_peer(replica, endpoint)?;
        }
        driver.enable(true)?;
        Ok(SimulatedBoard {
            driver,
            held: None,
            violations_reported: 0,
        })
    }

    /// The driver, for register reads (counters, live registers) and stats.
    pub fn driver(&mut self) -> &mut AlveoNic<FakeDevice<C>> {
        &mut self.driver
    }

    pub fn card(&self) -> &C {
        self.driver.device().card()
    }

    pub fn card_mut(&mut self) -> &mut C {
        self.driver.device_mut().card_mut()
    }
}

impl<C: CardLogic> NicHost for SimulatedBoard<C> {
    fn command(&mut self, command: NicCommand) -> Result<(), NicError> {
        self.driver.command(command)?;
        self.card_fault()
    }

    /// A record the driver dropped (not a record, or in a descriptor it
    /// could not use) is a fault of the board here, not a network's: the
    /// card and the fake engines are ours.
    fn poll_host(&mut self) -> Result<Option<CardToHost>, NicError> {
        if let Some(record) = self.held.take() {
            return Ok(Some(record));
        }
        self.card_fault()?;
        let dropped = |board: &Self| {
            let stats = board.driver.stats();
            (stats.malformed_records, stats.bad_descriptors)
        };
        let before = dropped(self);
        let record = self.driver.poll_host()?;
        let after = dropped(self);
        if after != before {
            self.held = record;
            return Err(NicError::DroppedByDriver {
                malformed_records: after.0 - before.0,
                bad_descriptors: after.1 - before.1,
            });
        }
        if record.is_none() {
            self.card_fault()?;
        }
        Ok(record)
    }
}

impl<C: CardLogic> SimulatedBoard<C> {
    /// A card bug or a driver misuse of the engines the fake board saw.
    fn card_fault(&mut self) -> Result<(), NicError> {
        if let Some(fault) = self.driver.device_mut().take_card_fault() {
            return Err(NicError::Card(fault));
        }
        let violations = self.driver.device().violations();
        if let Some(&violation) = violations.get(self.violations_reported) {
            self.violations_reported += 1;
            return Err(NicError::Xdma(violation));
        }
        Ok(())
    }
}

impl<C: CardLogic> NicWire for SimulatedBoard<C> {
    fn receive(&mut self, frame: &[u8]) {
        self.driver.device_mut().receive_frame(frame);
    }

    fn poll_transmit(&mut self) -> Option<(u8, Vec<u8>)> {
        self.card_mut().poll_transmit()
    }
}
