//! The simulator's seeded randomness: SplitMix64, split into independent
//! streams so that, for example, an explicit fault schedule replays the same
//! network and client behaviour as the generated schedule it was saved from.

/// A SplitMix64 generator: tiny, fast, and good enough for choosing faults.
#[derive(Debug, Clone)]
pub struct SimRng {
    state: u64,
}

impl SimRng {
    pub fn new(seed: u64) -> SimRng {
        SimRng { state: seed }
    }

    /// An independent generator for one purpose, derived from `seed` and a label.
    pub fn stream(seed: u64, label: &str) -> SimRng {
        let mut rng = SimRng::new(seed);
        for byte in label.bytes() {
            rng.state ^= u64::from(byte);
            rng.next_u64();
        }
        rng
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`); the modulo bias is irrelevant at our sizes.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_replay_and_differ_by_label() {
        let a: Vec<u64> = (0..4)
            .map(|_| SimRng::stream(7, "net").next_u64())
            .collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            SimRng::stream(7, "net").next_u64(),
            SimRng::stream(7, "clients").next_u64()
        );
    }

    #[test]
    fn between_stays_in_range_and_chance_respects_extremes() {
        let mut rng = SimRng::new(1);
        for _ in 0..1000 {
            let x = rng.between(3, 5);
            assert!((3..=5).contains(&x));
            assert!(!rng.chance(0.0));
            assert!(rng.chance(1.0));
        }
    }
}
