//! Virtual time and the latency model every delay of the simulation is drawn from.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Virtual time in microseconds since the start of the run.
pub type Micros = u64;

/// How long things take in the simulated cluster. The defaults are those of a
/// rack: a switch hop of a few microseconds, a kernel-networked client, and a
/// DMA transfer per record on the card-to-host stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyModel {
    /// Replicas get `Input::Tick` this often.
    pub tick_us: Micros,
    /// One-way latency between two replicas' NICs.
    pub network_us: Micros,
    /// Up to this much is added uniformly to each network delivery, so frames
    /// sent back to back occasionally overtake each other even without faults.
    pub network_jitter_us: Micros,
    /// One-way latency between a client and a replica's host.
    pub client_us: Micros,
    /// Card-to-host DMA time per record: records queue behind each other
    /// (FIFO), so a burst of acks reaches host software late.
    pub dma_per_record_us: Micros,
    /// Time for a host-to-card command to take effect on the NIC.
    pub host_to_card_us: Micros,
}

impl Default for LatencyModel {
    fn default() -> LatencyModel {
        LatencyModel {
            tick_us: 100,
            network_us: 5,
            network_jitter_us: 2,
            client_us: 10,
            dma_per_record_us: 1,
            host_to_card_us: 1,
        }
    }
}

impl fmt::Display for LatencyModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tick {} us, network {} us +0..{} us, client<->host {} us, card->host DMA {} us/record (FIFO), host->card {} us",
            self.tick_us,
            self.network_us,
            self.network_jitter_us,
            self.client_us,
            self.dma_per_record_us,
            self.host_to_card_us
        )
    }
}

/// `us` as milliseconds with one decimal, for reports.
pub fn ms(us: Micros) -> String {
    format!("{}.{} ms", us / 1000, us % 1000 / 100)
}
