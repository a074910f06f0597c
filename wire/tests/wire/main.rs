//! riptide-wire's integration tests, one binary (one link step) for all.

mod datagram;
mod doc;
mod errors;
mod frame;
mod fuzz;
mod props;
mod samples;
