//! The linearizability checker on hand-made histories (`tests/data/`), and
//! properties over generated ones.

use std::fs::File;
use std::io::BufReader;

use riptide_sim::history::{Completion, History, OpKind, Output, read_jsonl};
use riptide_sim::linearizability::synthetic::{SyntheticConfig, generate};
use riptide_sim::linearizability::{CheckOptions, Outcome, Verdict, check, check_with};

fn data(name: &str) -> History {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let file = File::open(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    read_jsonl(BufReader::new(file)).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn assert_linearizable(name: &str) {
    let verdict = check(&data(name));
    assert!(verdict.linearizable, "{name}:\n{verdict}");
    assert_eq!(verdict.outcome, Outcome::Linearizable);
    assert!(verdict.explanation.is_none());
    assert!(
        verdict.to_string().starts_with("linearizable: "),
        "{verdict}"
    );
}

/// Checks that `name` fails on key "x", and that exactly the operations at
/// `culprits` (1-based positions) cannot be ordered.
fn assert_culprits(name: &str, culprits: &[usize]) -> Verdict {
    let verdict = check(&data(name));
    assert!(!verdict.linearizable, "{name} passed:\n{verdict}");
    assert_eq!(verdict.outcome, Outcome::NotLinearizable);
    let explanation = verdict.explanation.as_ref().expect("an explanation");
    assert_eq!(explanation.key, "x");
    let positions: Vec<usize> = explanation
        .operations
        .iter()
        .map(|op| op.position)
        .collect();
    assert_eq!(positions, culprits, "{name}:\n{verdict}");
    assert!(explanation.minimal, "{name}:\n{verdict}");
    assert!(explanation.operations.iter().all(|op| !op.unknown_outcome));
    let text = verdict.to_string();
    assert!(text.starts_with("NOT linearizable: "), "{text}");
    let claim = match culprits.len() {
        1 => "Key \"x\": this operation cannot have happened".to_owned(),
        count => format!("Key \"x\": these {count} operations cannot all have happened"),
    };
    assert!(text.contains(&claim), "{text}");
    for position in culprits {
        assert!(text.contains(&format!("#{position} ")), "{text}");
    }
    verdict
}

#[test]
fn a_read_of_an_overwritten_value_is_stale() {
    let verdict = assert_culprits("stale_read.jsonl", &[1, 3, 4]);
    let y = verdict
        .keys
        .iter()
        .find(|key| key.key == "y")
        .expect("key y");
    assert_eq!(y.outcome, Outcome::Linearizable);
    let x = verdict
        .keys
        .iter()
        .find(|key| key.key == "x")
        .expect("key x");
    assert_eq!((x.ok, x.info, x.fail), (3, 0, 0));
    assert!(verdict.states_explored > 0);
    let longest = &verdict
        .explanation
        .as_ref()
        .expect("explanation")
        .longest_order;
    assert!(!longest.is_empty(), "{verdict}");
}

#[test]
fn concurrent_writes_may_take_effect_in_either_order() {
    assert_linearizable("concurrent_writes_v1_last.jsonl");
    assert_linearizable("concurrent_writes_v2_last.jsonl");
}

#[test]
fn a_value_cannot_come_back_without_a_write() {
    // put v1 needs no outcome: it could have taken effect at any time; the
    // second read needs a write of v2 after the first read, and put v2 had
    // returned by then.
    let verdict = assert_culprits("concurrent_writes_flip_flop.jsonl", &[2, 3, 4]);
    let text = verdict.to_string();
    assert!(text.contains("The longest valid order found:"), "{text}");
}

#[test]
fn cas_swaps_exactly_when_the_value_is_the_expected_one() {
    assert_linearizable("cas.jsonl");
    // The key is absent or "a", never "b": no put is needed to see that.
    assert_culprits("cas_false_success.jsonl", &[2]);
    assert_culprits("cas_false_failure.jsonl", &[1, 2]);
}

#[test]
fn delete_removes_the_value() {
    assert_linearizable("delete.jsonl");
    assert_culprits("delete_undone.jsonl", &[1, 2, 3]);
}

#[test]
fn an_info_operation_may_have_taken_effect() {
    assert_linearizable("info_took_effect.jsonl");
    let verdict = check(&data("info_took_effect.jsonl"));
    assert_eq!((verdict.keys[0].ok, verdict.keys[0].info), (2, 1));
}

#[test]
fn an_info_operation_may_never_have_taken_effect() {
    assert_linearizable("info_never_seen.jsonl");
}

#[test]
fn an_info_operation_cannot_take_effect_before_its_call() {
    let verdict = assert_culprits("info_before_call.jsonl", &[1]);
    let explanation = verdict.explanation.expect("explanation");
    assert!(explanation.longest_order.is_empty());
    assert!(verdict_text_mentions(
        &check(&data("info_before_call.jsonl")),
        "No operation can take effect first"
    ));
}

fn verdict_text_mentions(verdict: &Verdict, text: &str) -> bool {
    verdict.to_string().contains(text)
}

#[test]
fn failed_operations_did_not_happen() {
    assert_linearizable("fail_ignored.jsonl");
    let verdict = assert_culprits("fail_seen.jsonl", &[2]);
    assert_eq!(verdict.keys[0].fail, 1);
}

#[test]
fn the_verdict_serializes_for_the_cli() {
    let verdict = check(&data("stale_read.jsonl"));
    let json = serde_json::to_value(&verdict).expect("serializable");
    assert_eq!(json["linearizable"], false);
    assert_eq!(json["outcome"], "not_linearizable");
    assert_eq!(json["explanation"]["key"], "x");
    assert_eq!(json["explanation"]["operations"][1]["position"], 3);
    assert_eq!(
        json["explanation"]["operations"][1]["operation"]["value"],
        "v2"
    );
    assert_eq!(json["keys"][0]["key"], "x");
    assert_eq!(json["keys"][1]["outcome"], "linearizable");
}

#[test]
fn the_search_gives_up_at_its_budget() {
    let history = generate(&SyntheticConfig {
        ops: 200,
        keys: 1,
        clients: 10,
        ..SyntheticConfig::default()
    });
    let options = CheckOptions {
        max_states_per_key: 10,
        ..CheckOptions::default()
    };
    let verdict = check_with(&history, &options);
    assert_eq!(verdict.outcome, Outcome::Unknown, "{verdict}");
    assert!(!verdict.linearizable);
    assert!(verdict.states_explored <= 10);
    assert!(verdict.to_string().starts_with("unknown: "), "{verdict}");
    assert!(check(&history).linearizable);
}

#[test]
fn a_failing_key_decides_even_when_another_is_unknown() {
    let mut history = generate(&SyntheticConfig {
        ops: 200,
        keys: 1,
        clients: 10,
        ..SyntheticConfig::default()
    });
    history.ops.extend(data("stale_read.jsonl").ops);
    let options = CheckOptions {
        max_states_per_key: 10,
        ..CheckOptions::default()
    };
    let verdict = check_with(&history, &options);
    assert_eq!(verdict.outcome, Outcome::NotLinearizable, "{verdict}");
    assert_eq!(
        verdict.explanation.as_ref().map(|e| e.key.as_str()),
        Some("x")
    );
    assert!(
        verdict
            .to_string()
            .contains("Out of search budget: key \"k0\""),
        "{verdict}"
    );
}

#[test]
fn many_concurrent_clients_on_one_key_check_quickly() {
    let history = generate(&SyntheticConfig {
        seed: 7,
        ops: 500,
        keys: 1,
        clients: 10,
        ..SyntheticConfig::default()
    });
    let verdict = check(&history);
    assert!(verdict.linearizable, "{verdict}");
    // Just-in-time linearization keeps the search near one state per operation.
    assert!(verdict.states_explored < 50_000, "{verdict}");
}

#[test]
fn a_large_history_over_many_keys_is_linearizable() {
    let history = generate(&SyntheticConfig {
        seed: 3,
        ops: 20_000,
        keys: 100,
        clients: 16,
        info_per_mille: 20,
        fail_per_mille: 20,
        max_latency: 20,
    });
    let verdict = check(&history);
    assert!(verdict.linearizable, "{verdict}");
    assert_eq!(verdict.keys.len(), 100);
    let counted: usize = verdict
        .keys
        .iter()
        .map(|key| key.ok + key.info + key.fail)
        .sum();
    assert_eq!(counted, 20_000);
}

#[test]
fn a_corrupted_read_in_a_large_history_is_found_and_explained_small() {
    let mut history = generate(&SyntheticConfig {
        seed: 11,
        ops: 5_000,
        keys: 20,
        clients: 16,
        ..SyntheticConfig::default()
    });
    let victim = history
        .ops
        .iter()
        .rposition(|op| {
            op.kind == OpKind::Get
                && op.status == Completion::Ok
                && matches!(&op.output, Output::Read(Some(_)))
        })
        .expect("a read of some value");
    // A value written earlier, by a put that returned before the read was called.
    let read_at = history.ops[victim].call;
    let key = history.ops[victim].key.clone();
    let current = history.ops[victim].output.clone();
    let stale = history.ops[..victim]
        .iter()
        .filter(|op| {
            op.key == key
                && op.kind == OpKind::Put
                && op.status == Completion::Ok
                && op.ret.is_some_and(|ret| ret + 200 < read_at)
                && Output::Read(op.value.clone()) != current
        })
        .filter_map(|op| op.value.clone())
        .next()
        .expect("an old value");
    history.ops[victim].output = Output::Read(Some(stale));

    let verdict = check(&history);
    assert_eq!(verdict.outcome, Outcome::NotLinearizable);
    let explanation = verdict.explanation.as_ref().expect("explanation");
    assert_eq!(explanation.key, key);
    assert!(explanation.minimal, "{verdict}");
    assert!(explanation.operations.len() <= 6, "{verdict}");
    assert!(
        explanation
            .operations
            .iter()
            .any(|op| op.position == victim + 1),
        "{verdict}"
    );
}

#[test]
fn generated_histories_and_verdicts_replay_from_the_seed() {
    let config = SyntheticConfig {
        seed: 42,
        ..SyntheticConfig::default()
    };
    let history = generate(&config);
    assert_eq!(history, generate(&config));
    assert_ne!(history, generate(&SyntheticConfig { seed: 43, ..config }));
    assert_eq!(check(&history), check(&history));
}

mod properties {
    use proptest::prelude::*;
    use riptide_sim::history::{Completion, History, OpKind, Operation, Output, write_jsonl};
    use riptide_sim::linearizability::{Outcome, check};
    use std::collections::BTreeMap;

    /// One step of a sequential execution, with how it is observed.
    #[derive(Debug, Clone)]
    struct Step {
        kind: u8,
        key: u8,
        /// Which earlier value a cas expects (or none).
        pick: usize,
        /// How far before and after its instant of effect it was called and returned.
        before: u64,
        after: u64,
        /// 0: info that took effect, 1: info that did not, 2: fail, else ok.
        fate: u8,
    }

    fn steps(spread: u64) -> impl Strategy<Value = Vec<Step>> {
        prop::collection::vec(
            (0..4u8, 0..3u8, 0..8usize, 0..=spread, 0..=spread, 0..16u8).prop_map(
                |(kind, key, pick, before, after, fate)| Step {
                    kind,
                    key,
                    pick,
                    before,
                    after,
                    fate,
                },
            ),
            1..40,
        )
    }

    /// Runs `steps` one at a time, the i-th taking effect at time 100 + 10 i.
    fn execute(steps: &[Step]) -> History {
        let mut store: BTreeMap<String, String> = BTreeMap::new();
        let mut written: Vec<String> = Vec::new();
        let mut ops = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            let key = format!("k{}", step.key);
            let value = format!("v{i}");
            let (kind, value, expected) = match step.kind {
                0 => (OpKind::Get, None, None),
                1 => (OpKind::Put, Some(value), None),
                2 => (OpKind::Delete, None, None),
                _ => (OpKind::Cas, Some(value), written.get(step.pick).cloned()),
            };
            let (status, applied) = match step.fate {
                0 => (Completion::Info, true),
                1 => (Completion::Info, false),
                2 => (Completion::Fail, false),
                _ => (Completion::Ok, true),
            };
            let current = store.get(&key).cloned();
            let output = match kind {
                OpKind::Get => Output::Read(current.clone()),
                OpKind::Cas => Output::Swapped(current == expected),
                OpKind::Put | OpKind::Delete => Output::Nothing,
            };
            if applied {
                match (kind, &value) {
                    (OpKind::Put, Some(new)) => {
                        store.insert(key.clone(), new.clone());
                    }
                    (OpKind::Cas, Some(new)) if current == expected => {
                        store.insert(key.clone(), new.clone());
                    }
                    (OpKind::Delete, _) => {
                        store.remove(&key);
                    }
                    _ => {}
                }
            }
            if let Some(new) = &value {
                written.push(new.clone());
            }
            let effect_at = 100 + 10 * i as u64;
            ops.push(Operation {
                client: (i % 4) as u64,
                kind,
                key,
                value,
                expected,
                output: if status == Completion::Ok {
                    output
                } else {
                    Output::Nothing
                },
                status,
                call: effect_at - step.before,
                ret: (status != Completion::Info).then_some(effect_at + step.after),
            });
        }
        History { ops }
    }

    /// Random small histories of one key, linearizable or not: random
    /// overlapping times, random outputs, some `info`.
    fn random_history() -> impl Strategy<Value = History> {
        let op = (0..4u8, 0..3u8, 0..3u8, 0..3u8, 0..30u64, 0..12u64, 0..5u8);
        prop::collection::vec(op, 1..8).prop_map(|ops| {
            let value = |choice: u8| (choice > 0).then(|| format!("v{choice}"));
            let ops = ops
                .into_iter()
                .enumerate()
                .map(|(i, (kind, a, b, c, call, length, fate))| {
                    let info = fate == 0;
                    let (kind, value, expected, output) = match kind {
                        0 => (OpKind::Get, None, None, Output::Read(value(a))),
                        1 => (OpKind::Put, value(a.max(1)), None, Output::Nothing),
                        2 => (OpKind::Delete, None, None, Output::Nothing),
                        _ => (
                            OpKind::Cas,
                            value(a.max(1)),
                            value(b),
                            Output::Swapped(c > 0),
                        ),
                    };
                    Operation {
                        client: i as u64,
                        kind,
                        key: "k".to_owned(),
                        value,
                        expected,
                        output: if info { Output::Nothing } else { output },
                        status: if info {
                            Completion::Info
                        } else {
                            Completion::Ok
                        },
                        call,
                        ret: (!info).then_some(call + length),
                    }
                })
                .collect();
            History { ops }
        })
    }

    /// Linearizability by brute force: every order of every subset of the
    /// `info` operations with all completed ones.
    fn brute_force(history: &History) -> bool {
        fn extend(ops: &[&Operation], placed: &mut Vec<bool>, state: Option<String>) -> bool {
            let open: Vec<usize> = (0..ops.len()).filter(|&i| !placed[i]).collect();
            if open.iter().all(|&i| ops[i].status == Completion::Info) {
                return true;
            }
            for &i in &open {
                // Nothing still open may have returned before this call.
                let blocked = open
                    .iter()
                    .any(|&j| ops[j].ret.is_some_and(|ret| ret < ops[i].call));
                let Some(next) = apply(ops[i], &state) else {
                    continue;
                };
                if blocked {
                    continue;
                }
                placed[i] = true;
                let found = extend(ops, placed, next);
                placed[i] = false;
                if found {
                    return true;
                }
            }
            false
        }
        fn apply(op: &Operation, state: &Option<String>) -> Option<Option<String>> {
            let known = op.status == Completion::Ok;
            match (op.kind, &op.output) {
                (OpKind::Get, Output::Read(read)) if known => {
                    (read == state).then(|| state.clone())
                }
                (OpKind::Get, _) => Some(state.clone()),
                (OpKind::Put, _) => Some(op.value.clone()),
                (OpKind::Delete, _) => Some(None),
                (OpKind::Cas, output) => {
                    let swaps = *state == op.expected;
                    match output {
                        Output::Swapped(swapped) if known && *swapped != swaps => None,
                        _ if swaps => Some(op.value.clone()),
                        _ => Some(state.clone()),
                    }
                }
            }
        }
        let ops: Vec<&Operation> = history.ops.iter().collect();
        extend(&ops, &mut vec![false; ops.len()], None)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn the_search_agrees_with_brute_force(history in random_history()) {
            let verdict = check(&history);
            prop_assert_eq!(verdict.linearizable, brute_force(&history), "{}", verdict);
            if let Some(explanation) = verdict.explanation {
                // The culprits alone, every other operation relaxed, still fail.
                let mut culprits = history.clone();
                for (i, op) in culprits.ops.iter_mut().enumerate() {
                    let culprit = explanation.operations.iter().any(|c| c.position == i + 1);
                    if !culprit {
                        op.status = Completion::Info;
                        op.output = Output::Nothing;
                        op.ret = None;
                    }
                }
                prop_assert!(!brute_force(&culprits), "{}", explanation);
            }
        }
    }

    proptest! {
        #[test]
        fn sequential_executions_with_disjoint_timing_are_linearizable(steps in steps(4)) {
            let verdict = check(&execute(&steps));
            prop_assert!(verdict.linearizable, "{}", verdict);
        }

        #[test]
        fn sequential_executions_with_overlapping_timing_are_linearizable(steps in steps(35)) {
            let verdict = check(&execute(&steps));
            prop_assert!(verdict.linearizable, "{}", verdict);
        }

        #[test]
        fn a_read_of_a_value_never_written_is_not_linearizable(
            mut steps in steps(35),
            (key, before, after) in (0..3u8, 0..=35u64, 0..=35u64),
            which in any::<prop::sample::Index>(),
        ) {
            // At least one completed read.
            steps.push(Step { kind: 0, key, pick: 0, before, after, fate: 15 });
            let mut history = execute(&steps);
            let reads: Vec<usize> = (0..history.ops.len())
                .filter(|&i| {
                    history.ops[i].kind == OpKind::Get && history.ops[i].status == Completion::Ok
                })
                .collect();
            let victim = reads[which.index(reads.len())];
            history.ops[victim].output = Output::Read(Some("never written".to_owned()));
            let verdict = check(&history);
            prop_assert_eq!(verdict.outcome, Outcome::NotLinearizable, "{}", verdict);
            let explanation = verdict.explanation.expect("explanation");
            prop_assert_eq!(explanation.operations.len(), 1);
            prop_assert_eq!(explanation.operations[0].position, victim + 1);
        }

        #[test]
        fn histories_survive_a_round_trip_through_json_lines(steps in steps(35)) {
            let history = execute(&steps);
            let mut bytes = Vec::new();
            write_jsonl(&mut bytes, &history).expect("written to memory");
            let read = riptide_sim::history::read_jsonl(bytes.as_slice()).expect("valid");
            prop_assert_eq!(read, history);
        }
    }
}
