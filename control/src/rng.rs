//! A small seeded PRNG, so every random choice replays from a seed.
//!
//! xoshiro256** (Blackman and Vigna), seeded through SplitMix64 so that any
//! `u64` seed, including 0 and other low-entropy seeds, gives a well-mixed
//! state. It is fast, has a 2^256 - 1 period and passes BigCrush, which is
//! plenty for election timeouts and fault schedules; it is not cryptographic.
//!
//! The control plane and the simulator share it: a simulation run is a pure
//! function of its seed, and [`Rng::fork`] hands independent streams to the
//! parts of a run (each replica, the network, the clients) so that adding a
//! draw in one part does not shift the choices of another.

/// A deterministic pseudo-random number generator (xoshiro256**).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    state: [u64; 4],
}

/// One step of SplitMix64: the recommended way to expand a seed into
/// xoshiro state (its outputs are never all zero for four consecutive steps).
fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        Rng {
            state: [
                splitmix64(&mut x),
                splitmix64(&mut x),
                splitmix64(&mut x),
                splitmix64(&mut x),
            ],
        }
    }

    /// The next 64 uniformly distributed bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n`. Unbiased (Lemire's multiply-and-reject).
    ///
    /// # Panics
    /// If `n == 0`: an empty range has no element to return.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0): empty range");
        // The high half of x * n is uniform in 0..n except for the first
        // `2^64 mod n` low halves, which are rejected.
        let threshold = n.wrapping_neg() % n;
        loop {
            let wide = u128::from(self.next_u64()) * u128::from(n);
            if (wide as u64) >= threshold {
                return (wide >> 64) as u64;
            }
        }
    }

    /// Uniform in `lo..=hi`.
    ///
    /// # Panics
    /// If `lo > hi`.
    pub fn range_inclusive(&mut self, lo: u64, hi: u64) -> u64 {
        assert!(lo <= hi, "Rng::range_inclusive({lo}, {hi}): empty range");
        match (hi - lo).checked_add(1) {
            Some(span) => lo + self.below(span),
            // The full u64 range: every output is in it.
            None => self.next_u64(),
        }
    }

    /// True with probability `num / den`.
    ///
    /// # Panics
    /// If `den == 0`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// A new generator whose stream is independent of this one's, derived
    /// deterministically from it (this generator advances by one draw).
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn different_seeds_differ() {
        let a: Vec<u64> = (0..8)
            .scan(Rng::new(1), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..8)
            .scan(Rng::new(2), |r, _| Some(r.next_u64()))
            .collect();
        assert_ne!(a, b);
    }

    #[test]
    fn seed_zero_is_not_degenerate() {
        let mut r = Rng::new(0);
        let draws: Vec<u64> = (0..4).map(|_| r.next_u64()).collect();
        assert!(draws.iter().all(|&x| x != 0));
        assert_ne!(draws[0], draws[1]);
    }

    #[test]
    fn matches_reference_splitmix64_output() {
        // Reference values of SplitMix64 from seed 0 (Vigna's splitmix64.c).
        let mut x = 0u64;
        assert_eq!(splitmix64(&mut x), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(&mut x), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn below_stays_in_range_and_is_roughly_uniform() {
        let mut r = Rng::new(7);
        let n = 10u64;
        let draws = 100_000;
        let mut counts = [0u64; 10];
        for _ in 0..draws {
            let x = r.below(n);
            assert!(x < n);
            counts[x as usize] += 1;
        }
        // Each bucket expects 10_000; 5 sigma is about 475.
        for &c in &counts {
            assert!(
                (9_500..=10_500).contains(&c),
                "bucket count {c} in {counts:?}"
            );
        }
    }

    #[test]
    fn below_one_is_always_zero_and_huge_ranges_work() {
        let mut r = Rng::new(3);
        for _ in 0..100 {
            assert_eq!(r.below(1), 0);
            assert!(r.below(u64::MAX) < u64::MAX);
        }
    }

    #[test]
    fn range_inclusive_hits_both_ends_and_nothing_outside() {
        let mut r = Rng::new(11);
        let mut seen = [false; 4];
        for _ in 0..1000 {
            let x = r.range_inclusive(30, 33);
            assert!((30..=33).contains(&x));
            seen[(x - 30) as usize] = true;
        }
        assert_eq!(seen, [true; 4]);
        assert_eq!(r.range_inclusive(5, 5), 5);
        r.range_inclusive(0, u64::MAX);
    }

    #[test]
    fn chance_matches_its_probability() {
        let mut r = Rng::new(5);
        let hits = (0..100_000).filter(|_| r.chance(1, 4)).count();
        assert!((24_000..=26_000).contains(&hits), "{hits}");
        assert!((0..100).all(|_| !r.chance(0, 3)));
        assert!((0..100).all(|_| r.chance(3, 3)));
    }

    #[test]
    fn forks_are_deterministic_and_independent() {
        let mut parent_a = Rng::new(9);
        let mut parent_b = Rng::new(9);
        let mut child_a = parent_a.fork();
        let mut child_b = parent_b.fork();
        let a: Vec<u64> = (0..16).map(|_| child_a.next_u64()).collect();
        let b: Vec<u64> = (0..16).map(|_| child_b.next_u64()).collect();
        assert_eq!(a, b);
        let mut sibling = parent_a.fork();
        let s: Vec<u64> = (0..16).map(|_| sibling.next_u64()).collect();
        assert_ne!(a, s);
        let p: Vec<u64> = (0..16).map(|_| parent_a.next_u64()).collect();
        assert_ne!(a, p);
    }
}
