//! Without faults the cluster elects one leader and commits everything.

use riptide_sim::SimConfig;

use super::run;

#[test]
fn a_fault_free_run_commits_everything_with_a_single_election() {
    for replicas in [3, 5] {
        for seed in 0..5 {
            let report = run(&SimConfig::new(replicas, seed, 300));
            assert!(report.all_ok(), "{report}");
            let stats = &report.stats;
            assert_eq!(stats.ops_completed, 300, "{report}");
            assert_eq!(stats.elections, 1, "{report}");
            assert!(stats.commits > 0, "{report}");
            assert_eq!(stats.frames.dropped + stats.frames.duplicated, 0);
            assert_eq!(stats.malformed, 0, "{report}");
        }
    }
}
