//! Shrinking a failing run's fault schedule: drop faults one at a time while
//! the failure persists, so what is left is the set of faults the failure
//! needs (each remaining one is necessary: removing any single one makes it
//! go away). Every candidate run is itself deterministic, so the result is too.

use crate::config::{FaultPlan, SimConfig};
use crate::faults::FaultSchedule;
use crate::report::SimReport;

/// The smallest schedule found for which `fails` still holds, and the report
/// of its run. `config`'s own run must fail; otherwise it is returned as is.
pub fn minimize(
    config: &SimConfig,
    fails: impl Fn(&SimReport) -> bool,
) -> (FaultSchedule, SimReport) {
    let run = |schedule: &FaultSchedule| {
        let mut candidate = config.clone();
        candidate.faults = FaultPlan::Explicit(schedule.clone());
        crate::run(&candidate, &mut |_, _| {})
    };
    let mut schedule = config.schedule();
    let mut report = run(&schedule);
    if !fails(&report) {
        return (schedule, report);
    }
    let mut index = 0;
    while index < schedule.faults.len() {
        let mut smaller = schedule.clone();
        smaller.faults.remove(index);
        let candidate = run(&smaller);
        if fails(&candidate) {
            schedule = smaller;
            report = candidate;
        } else {
            index += 1;
        }
    }
    (schedule, report)
}
