//! `RIPTIDE_VCD=dir` makes every bench write a waveform (alone in this test
//! binary: the variable is process-wide).

use riptide_hw::sim::RtlNic;
use riptide_wire::frame::Endpoint;

#[test]
fn riptide_vcd_writes_a_waveform_per_bench() {
    let dir = std::env::temp_dir().join(format!("riptide-hw-vcd-{}", std::process::id()));
    // SAFETY: no other thread of this test binary reads the environment.
    unsafe { std::env::set_var("RIPTIDE_VCD", &dir) };
    let peers = vec![Endpoint::default(); 3];
    let mut nic = RtlNic::new("vcd_core", 0, 1, peers);
    nic.drain();
    drop(nic);
    let vcd = std::fs::read_to_string(dir.join("vcd_core.vcd")).expect("VCD written");
    assert!(vcd.contains("$enddefinitions"));
    assert!(vcd.contains("net_rx_tdata"));
    assert!(
        vcd.lines().filter(|l| l.starts_with('#')).count() > 10,
        "timestamps"
    );
}
