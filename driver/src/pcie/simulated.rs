//! A simulated board as a [`Nic`]: the host side goes through the driver
//! that runs on a real board ([`AlveoNic`]: registers, XDMA descriptor rings)
//! into the fake XDMA engines ([`FakeDevice`]); the network side goes
//! straight to the card's ports, which a real board's MAC would feed.
//!
//! This is how the cluster simulator runs host software against the RTL
//! (`riptide_hw::card::rtl_board`), or against the model through the driver.

use super::board::{AlveoNic, AlveoOptions, BoardError};
use super::fake::{CardLogic, FakeDevice};
use crate::Nic;
use riptide_wire::frame::Endpoint;
use riptide_wire::host::{CardToHost, NicCommand};

/// The driver over a fake board around card `C`.
pub struct SimulatedBoard<C: CardLogic> {
    driver: AlveoNic<FakeDevice<C>>,
    errors: u64,
    last_error: Option<BoardError>,
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
            errors: 0,
            last_error: None,
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

    /// Driver calls that failed (the `Nic` interface has no error path, so
    /// they are counted), and the last failure.
    pub fn errors(&self) -> (u64, Option<&BoardError>) {
        (self.errors, self.last_error.as_ref())
    }

    fn failed(&mut self, error: BoardError) {
        self.errors += 1;
        self.last_error = Some(error);
    }
}

impl<C: CardLogic> Nic for SimulatedBoard<C> {
    fn command(&mut self, command: NicCommand) {
        if let Err(e) = self.driver.command(command) {
            self.failed(e);
        }
    }

    fn receive(&mut self, frame: &[u8]) {
        self.driver.device_mut().receive_frame(frame);
    }

    fn poll_transmit(&mut self) -> Option<(u8, Vec<u8>)> {
        self.card_mut().poll_transmit()
    }

    fn poll_host(&mut self) -> Option<CardToHost> {
        match self.driver.poll_host() {
            Ok(record) => record,
            Err(e) => {
                self.failed(e);
                None
            }
        }
    }

    /// Driver errors, records the driver dropped, and the card's own faults.
    fn faults(&self) -> u64 {
        let dropped = self.driver.stats();
        self.errors + dropped.malformed_records + dropped.bad_descriptors + self.card().faults()
    }
}
