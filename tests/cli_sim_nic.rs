//! `riptide sim --nic` with one backend per replica, through the binary: a
//! malformed list is refused before anything runs, with exit status 2 and a
//! message naming its bad part. (That a mixed group passes every check through
//! faults and commits the model's log is `sim/tests/verilator.rs`' job.)

mod common;

use common::{riptide, stderr, stdout};

#[test]
fn a_malformed_nic_list_is_refused_naming_the_bad_part() {
    for (args, names) in [
        (
            &["--nic", "model,fpga,model"][..],
            &["unknown NIC \"fpga\""][..],
        ),
        (&["--nic", "model,,model"], &["unknown NIC \"\""]),
        (
            &["--replicas", "3", "--nic", "model,verilator"],
            &["--nic model,verilator", "2 NICs for 3 replicas"],
        ),
        (
            &["--replicas", "5", "--nic", "verilator,model,verilator"],
            &["--nic verilator,model,verilator", "3 NICs for 5 replicas"],
        ),
    ] {
        let out = riptide(&[&["sim", "--ops", "10"], args].concat());
        let (text, errors) = (stdout(&out), stderr(&out));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {text}{errors}");
        for name in names {
            assert!(errors.contains(name), "{args:?}: {errors}");
        }
        assert!(!errors.contains("panicked"), "{args:?}: {errors}");
        assert!(text.is_empty(), "{args:?} ran: {text}");
    }
}
