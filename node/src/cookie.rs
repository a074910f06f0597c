//! Address cookies: proof that a client can receive at the address its
//! datagrams come from, before a replica sends it more bytes than it sent.
//!
//! UDP source addresses are forged for free, so a reply larger than its
//! request would let anyone aim the replica's bandwidth at a third party
//! (amplification). A replica answers a request from an unproven address
//! with at most as many bytes as the request had; when the real answer is
//! larger, it sends a cookie instead: a keyed hash of the source address.
//! Only whoever receives at that address learns it; sending it back with
//! the request proves the address. `docs/runtime.md`, "Trust boundary",
//! says who may send what to which port.
//!
//! The key is drawn at random when the process starts (std's `RandomState`:
//! SipHash-1-3 with a 128-bit key from the OS's randomness) and replaced
//! every [`Cookies::rotate`]; a cookie of the previous key is still good,
//! so a client's cookie lasts one to two rotation periods. Nothing is kept
//! per client.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::SocketAddr;

/// The keys cookies are made with.
pub struct Cookies {
    current: RandomState,
    previous: RandomState,
}

impl Default for Cookies {
    fn default() -> Cookies {
        Cookies::new()
    }
}

impl Cookies {
    pub fn new() -> Cookies {
        Cookies {
            current: RandomState::new(),
            previous: RandomState::new(),
        }
    }

    /// The cookie for `addr` (never 0, which means "no cookie" on the wire).
    pub fn issue(&self, addr: SocketAddr) -> u64 {
        cookie(&self.current, addr)
    }

    /// Whether `cookie` proves `addr`: made for it with the current or the
    /// previous key.
    pub fn verify(&self, addr: SocketAddr, cookie_sent: u64) -> bool {
        cookie_sent != 0
            && (cookie_sent == cookie(&self.current, addr)
                || cookie_sent == cookie(&self.previous, addr))
    }

    /// A new key; cookies of the one before it stay good until the next
    /// rotation.
    pub fn rotate(&mut self) {
        self.previous = std::mem::replace(&mut self.current, RandomState::new());
    }
}

fn cookie(key: &RandomState, addr: SocketAddr) -> u64 {
    key.hash_one(addr) | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_proves_its_address_only_and_outlives_one_rotation() {
        let a: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let b: SocketAddr = "10.0.0.1:5001".parse().unwrap();
        let mut cookies = Cookies::new();
        let for_a = cookies.issue(a);
        assert!(cookies.verify(a, for_a));
        assert!(!cookies.verify(b, for_a));
        assert!(!cookies.verify(a, 0));
        assert!(!cookies.verify(a, for_a ^ 2));
        cookies.rotate();
        assert!(cookies.verify(a, for_a), "the previous key still counts");
        cookies.rotate();
        assert!(!cookies.verify(a, for_a), "two rotations later it does not");
        // Another replica's keys make other cookies.
        assert!(!Cookies::new().verify(a, cookies.issue(a)));
    }
}
