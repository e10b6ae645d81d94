//! Graph checks of every state machine: edges, reachability, retries, error names.

use std::collections::BTreeSet;

use autopilot_core::ports::ERROR_NAMES;
use autopilot_pipeline_tests::asl::{
    self, LAMBDA_TRANSIENT_ERRORS, Machine, is_terminal, reachable, state_type, targets,
};
use serde_json::Value;

fn machines() -> Vec<Machine> {
    let all = Machine::load_all(&autopilot_pipeline_tests::root()).expect("state machines load");
    assert!(all.len() >= 3, "the run, its distributed variant and the rollback machine");
    all
}

#[test]
fn every_next_default_and_catch_target_exists_in_its_scope() {
    for m in machines() {
        for scope in m.scopes() {
            assert!(scope.states.contains_key(scope.start_at), "{}: StartAt {} missing", m.file_name(), scope.start_at);
            for (name, state) in scope.states {
                for t in targets(state) {
                    assert!(
                        scope.states.contains_key(t),
                        "{} / {}: {name} goes to {t}, not a state of this scope",
                        m.file_name(),
                        scope.owner
                    );
                }
            }
        }
    }
}

#[test]
fn every_state_is_reachable_and_every_path_ends() {
    for m in machines() {
        for scope in m.scopes() {
            let seen = reachable(&scope);
            for (name, state) in scope.states {
                assert!(seen.contains(name.as_str()), "{} / {}: {name} is unreachable", m.file_name(), scope.owner);
                let ends = is_terminal(state) || state_type(state) == "Choice" || state.get("Next").is_some();
                assert!(ends, "{} / {name}: neither Next nor End", m.file_name());
                if state_type(state) == "Choice" {
                    assert!(state.get("Default").is_some(), "{} / {name}: a Choice without Default", m.file_name());
                }
            }
        }
    }
}

#[test]
fn state_names_are_unique_across_the_whole_machine() {
    for m in machines() {
        let mut seen = BTreeSet::new();
        for (_, name, _) in m.all_states() {
            assert!(seen.insert(name), "{}: state name {name} used twice", m.file_name());
        }
    }
}

#[test]
fn every_task_invokes_a_substituted_function_and_retries_transient_errors_with_backoff_and_jitter() {
    let mut tasks = 0;
    for m in machines() {
        for (_, name, state) in m.all_states() {
            if state_type(state) != "Task" {
                continue;
            }
            tasks += 1;
            let at = format!("{} / {name}", m.file_name());
            assert_eq!(state["Resource"], "arn:aws:states:::lambda:invoke", "{at}");
            let function = state.pointer("/Parameters/FunctionName").and_then(Value::as_str).unwrap_or_default();
            assert!(function.starts_with("${") && function.ends_with("FunctionArn}"), "{at}: FunctionName {function}");
            for error in std::iter::once("Autopilot.Retryable").chain(LAMBDA_TRANSIENT_ERRORS) {
                let rule = asl::retrier_for(state, error).unwrap_or_else(|| panic!("{at}: {error} is not retried"));
                assert!(rule["MaxAttempts"].as_u64().unwrap_or(3) >= 3, "{at}: {error} retried fewer than 3 times");
                assert!(rule["BackoffRate"].as_f64().unwrap_or(2.0) > 1.0, "{at}: {error} without backoff");
                assert_eq!(rule["JitterStrategy"], "FULL", "{at}: {error} without jitter");
                assert!(rule["MaxDelaySeconds"].as_u64().is_some(), "{at}: {error} backoff unbounded");
            }
            let conflict =
                asl::retrier_for(state, "Autopilot.Conflict").unwrap_or_else(|| panic!("{at}: Conflict not retried"));
            assert!(conflict["IntervalSeconds"].as_u64().unwrap_or(1) >= 2, "{at}: a conflict is retried after a wait");
            for rule in state.get("Catch").and_then(Value::as_array).into_iter().flatten() {
                let errors = rule["ErrorEquals"].as_array().unwrap();
                assert!(
                    !errors.iter().any(|e| e == "States.ALL") || errors.len() == 1,
                    "{at}: States.ALL must stand alone"
                );
            }
            if let Some(catch) = state.get("Catch").and_then(Value::as_array) {
                let last = catch.last().unwrap();
                assert!(
                    catch.iter().position(|r| r["ErrorEquals"][0] == "States.ALL").is_none_or(|i| i == catch.len() - 1),
                    "{at}: States.ALL catcher must come last ({last})"
                );
            }
        }
    }
    assert!(tasks >= 6, "found {tasks} tasks");
}

#[test]
fn every_custom_error_name_is_one_the_lambdas_fail_with() {
    let mut used = BTreeSet::new();
    for m in machines() {
        for name in m.error_names() {
            if name.starts_with("States.") || LAMBDA_TRANSIENT_ERRORS.contains(&name.as_str()) {
                continue;
            }
            assert!(
                ERROR_NAMES.contains(&name.as_str()),
                "{}: {name} is not in autopilot_core::ports::ERROR_NAMES",
                m.file_name()
            );
            used.insert(name);
        }
    }
    for name in ["Autopilot.Retryable", "Autopilot.Conflict", "Autopilot.GuardrailTripped", "Autopilot.InvalidInput"] {
        assert!(used.contains(name), "{name} is never matched");
    }
}

/// In a memory run every failure of the step that changes things (a guardrail trip first)
/// goes to the rollback function; forecast never changes anything and is not rolled back.
#[test]
fn memory_changes_are_caught_into_rollback() {
    for m in machines().iter().filter(|m| m.file_name().starts_with("autopilot-run")) {
        let scopes = m.scopes();
        let memory = scopes.iter().find(|s| s.owner == "MemoryBatches").expect("memory fan-out");
        let tune = &memory.states["TuneMemory"];
        let catch = tune["Catch"].as_array().expect("TuneMemory catches");
        assert_eq!(catch[0]["ErrorEquals"][0], "Autopilot.GuardrailTripped", "{}", m.file_name());
        assert_eq!(catch.last().unwrap()["ErrorEquals"][0], "States.ALL", "{}", m.file_name());
        for rule in catch {
            let undo = &memory.states[rule["Next"].as_str().unwrap()];
            let inner = scopes.iter().find(|s| s.owner == rule["Next"].as_str().unwrap()).expect("undo processor");
            assert_eq!(state_type(undo), "Map", "undo runs per function");
            let step = &inner.states[inner.start_at];
            assert_eq!(step.pointer("/Parameters/FunctionName").unwrap(), "${RollbackFunctionArn}");
            // a function this execution did not change has nothing to undo: not a failure
            assert_eq!(step["Catch"][0]["ErrorEquals"][0], "Autopilot.InvalidInput");
        }
    }
}
