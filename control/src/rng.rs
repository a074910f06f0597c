//! A small seeded PRNG, so every random choice replays from a seed.
