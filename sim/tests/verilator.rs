//! The cluster on the emitted Verilog (`--nic verilator`): riptide_core.v
//! Verilated, behind the PCIe driver on the same simulated board as `--nic
//! rtl`. The same seed and fault schedule commit the same log as on the
//! behavioural model, and mixed groups (one backend per replica) pass every
//! check through crashes.
//!
//! Without verilator the Verilated core is not built: these fail under CI
//! (which installs it) and are skipped with a note elsewhere.

use riptide_sim::faults::FaultKind;
use riptide_sim::{NicBackend, NicChoiceError, NicGroup, SimConfig, SimReport};

fn run(config: &SimConfig) -> SimReport {
    riptide_sim::run(config, &mut |_, _| {})
}

/// `config` on `nic`, or `None` (with a note) where verilator is missing.
fn on(config: SimConfig, nic: &str) -> Option<SimConfig> {
    let nic: NicGroup = nic.parse().expect("backend names");
    match config.with_nic(nic) {
        Ok(config) => Some(config),
        Err(NicChoiceError::Verilator(e)) => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{e}");
            eprintln!("note: not run: {e}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// What `riptide sim --replicas R --seed S --ops N --faults KINDS` runs
/// (its defaults: 3 clients, faults healed by 200 us per operation).
fn cli(replicas: u8, seed: u64, ops: u64, kinds: &[FaultKind]) -> SimConfig {
    SimConfig::new(replicas, seed, ops).with_faults(kinds, (ops * 200).clamp(50_000, 5_000_000))
}

/// Both runs pass every check and commit the same log; every event, frame
/// byte and virtual time is the same too.
fn same_log(model: &SimReport, other: &SimReport) {
    assert!(model.all_ok(), "{model}");
    assert!(other.all_ok(), "{other}");
    assert!(!model.committed.is_empty(), "{model}");
    assert_eq!(
        model.committed, other.committed,
        "model:\n{model}\nother:\n{other}"
    );
    assert_eq!(model.stats.trace_hash, other.stats.trace_hash);
}

/// `riptide sim --replicas 3 --seed 5 --ops 2000 --nic verilator --faults crash`
/// against the same with `--nic model`.
#[test]
fn verilator_nics_commit_the_models_log_through_crashes() {
    let config = cli(3, 5, 2000, &[FaultKind::Crash]);
    let Some(verilator) = on(config.clone(), "verilator") else {
        return;
    };
    let model = config.with_nic(NicBackend::Model).expect("the model");
    let (model, verilator) = (run(&model), run(&verilator));
    assert!(verilator.stats.crashes > 0, "{verilator}");
    assert_eq!(verilator.stats.ops_completed, 2000, "{verilator}");
    same_log(&model, &verilator);
}

/// One backend per replica, through every fault kind (crashes included):
/// hardware and software NICs in one group on one wire format.
#[test]
fn mixed_groups_pass_every_check_through_crashes() {
    for (replicas, seed, nic) in [
        (3, 2, "model,verilator,model"),
        (3, 7, "verilator,model,verilator"),
        (5, 1, "verilator,model,verilator,model,verilator"),
    ] {
        let config = cli(replicas, seed, 300, &FaultKind::ALL);
        let Some(mixed) = on(config.clone(), nic) else {
            return;
        };
        let model = config.with_nic(NicBackend::Model).expect("the model");
        let (model, mixed) = (run(&model), run(&mixed));
        assert!(mixed.stats.crashes > 0, "--nic {nic}: {mixed}");
        assert!(mixed.replay_command().contains(&format!("--nic {nic}")));
        same_log(&model, &mixed);
    }
}

#[test]
fn a_nic_list_names_one_backend_or_one_per_replica() {
    let config = SimConfig::new(3, 1, 10);
    let err = config
        .clone()
        .with_nic("model,model".parse::<NicGroup>().unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("2 NICs for 3 replicas"), "{err}");
    assert!("model,fpga".parse::<NicGroup>().is_err());
    let group: NicGroup = "model,rtl,verilator".parse().unwrap();
    assert_eq!(group.of(1), NicBackend::Rtl);
    assert_eq!(group.to_string(), "model,rtl,verilator");
    let all: NicGroup = "rtl".parse().unwrap();
    assert_eq!(all.of(2), NicBackend::Rtl);
}
