//! The trace hash: a fingerprint of everything a run did, in order, so two
//! runs can be compared for bit-for-bit equality without storing their traces.

/// FNV-1a, 64 bit: order-sensitive and cheap enough to feed every event.
#[derive(Debug, Clone)]
pub struct TraceHash(u64);

impl TraceHash {
    pub fn new() -> TraceHash {
        TraceHash(0xcbf2_9ce4_8422_2325)
    }

    pub fn add(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub fn add_u64(&mut self, value: u64) {
        self.add(&value.to_le_bytes());
    }

    pub fn finish(&self) -> u64 {
        self.0
    }
}

impl Default for TraceHash {
    fn default() -> TraceHash {
        TraceHash::new()
    }
}
