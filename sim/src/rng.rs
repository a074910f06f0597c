//! The run's random streams: one seed, split by purpose (faults, network,
//! workload, replicas, restarts), so that, for example, an explicit fault
//! schedule replays the same network and client behaviour as the generated
//! schedule it was saved from, and a draw added in one part shifts no other.

pub use riptide_control::rng::Rng;

/// The generator for one purpose of the run seeded `seed`.
pub fn stream(seed: u64, label: &str) -> Rng {
    // FNV-1a of the label, mixed into the seed; Rng::new spreads it further.
    let tag = label.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    Rng::new(seed ^ tag)
}

/// True with probability `p` (in parts per million, which is as fine as any
/// fault rate needs to be).
pub fn chance(rng: &mut Rng, p: f64) -> bool {
    const PPM: f64 = 1_000_000.0;
    p > 0.0 && rng.chance((p * PPM).round() as u64, PPM as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_replay_and_differ_by_label() {
        assert_eq!(stream(7, "net").next_u64(), stream(7, "net").next_u64());
        assert_ne!(stream(7, "net").next_u64(), stream(7, "clients").next_u64());
        assert_ne!(stream(7, "net").next_u64(), stream(8, "net").next_u64());
    }

    #[test]
    fn chance_respects_the_extremes() {
        let mut rng = Rng::new(1);
        for _ in 0..1000 {
            assert!(!chance(&mut rng, 0.0));
            assert!(chance(&mut rng, 1.0));
        }
    }
}
