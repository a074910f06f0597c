//! One module per subcommand: parse arguments, call the library, print.
//!
//! Exit codes: 0 all checks hold, 1 a check failed (the output says how to
//! replay it), 2 bad input or an I/O error, 3 undecided (`riptide check`'s
//! search ran out of budget).

pub mod bench;
pub mod bench_round;
pub mod check;
pub mod client;
pub mod doctor;
pub mod hw;
pub mod ldfi;
pub mod model_check;
pub mod openraft_node;
pub mod replica;
pub mod sim;
pub mod status;
