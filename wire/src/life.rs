//! Lives: which incarnation of a replica a message comes from.
//!
//! A replica's incarnation is 0 on a group's first boot and grows with every
//! restart. Rare-path messages that vote or answer a recovery carry the
//! sender's whole crash vector (`lives`, 32 bits an entry); every header
//! carries [`layout::header::LIFE`](crate::layout::header::LIFE), the low
//! 8 bits of the sender's incarnation, which the NIC compares against a
//! host-programmed table without parsing a body. `docs/protocol.md` ("Crash
//! with amnesia") says why both, and why 8 bits suffice.

/// The header's `LIFE` byte of an incarnation.
pub const fn life(incarnation: u32) -> u8 {
    incarnation as u8
}

/// Whether life `a` is older than life `b`, in serial-number order (RFC 1982)
/// on 8 bits: `a` is older when `b` is 1 to 127 lives ahead of it. Exact while
/// a frame is never in flight across 128 restarts of its sender.
pub const fn is_older(a: u8, b: u8) -> bool {
    let ahead = b.wrapping_sub(a);
    ahead != 0 && ahead < 128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_life_is_older_than_the_next_127_and_no_others() {
        for a in 0..=255u8 {
            assert!(!is_older(a, a));
            for ahead in 1..128u8 {
                assert!(is_older(a, a.wrapping_add(ahead)), "{a} +{ahead}");
                assert!(!is_older(a.wrapping_add(ahead), a), "{a} +{ahead}");
            }
        }
    }

    #[test]
    fn the_byte_is_the_low_bits_of_the_incarnation() {
        assert_eq!(life(0x1_02), 2);
        assert!(is_older(life(255), life(256)));
    }
}
