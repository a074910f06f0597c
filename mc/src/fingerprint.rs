//! Fingerprints: 64-bit hashes of canonical forms. Visited states are kept
//! as fingerprints only (hash compaction): with n states the chance that two
//! distinct states collide, and one is wrongly skipped, is about n²/2⁶⁵,
//! 3·10⁻⁶ at ten million states.

use std::fmt;
use std::hash::{DefaultHasher, Hasher};

/// A `fmt::Write` that hashes what is written instead of storing it, so a
/// `Debug` form is fingerprinted without allocating it.
pub struct HashWriter(pub DefaultHasher);

impl HashWriter {
    pub fn new() -> HashWriter {
        // `DefaultHasher::new` has fixed keys: fingerprints are the same in
        // every run and on every thread.
        HashWriter(DefaultHasher::new())
    }

    pub fn finish(&self) -> u64 {
        self.0.finish()
    }
}

impl Default for HashWriter {
    fn default() -> HashWriter {
        HashWriter::new()
    }
}

impl fmt::Write for HashWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.write(s.as_bytes());
        Ok(())
    }
}
