//! The state machines as data: every scope (the machine and each Map's item processor), its
//! states, where each state can go next, and what its Task states call.
//!
//! Enough of the Amazon States Language to check the graph and to walk a run's path; the
//! full validation is asl-validator's (`scripts/validate.sh`) and the emulator's.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::PipelineError;

/// One `*.asl.json` file.
#[derive(Debug, Clone)]
pub struct Machine {
    pub path: PathBuf,
    pub definition: Value,
}

/// The states of one scope: the machine's top level, or a Map state's `ItemProcessor`.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// `"<top>"` or the name of the Map state that owns it.
    pub owner: &'a str,
    pub start_at: &'a str,
    pub states: &'a serde_json::Map<String, Value>,
}

/// Transient errors of the Lambda service that every Task must retry (besides
/// `Autopilot.Retryable`, the handlers' own transient error).
pub const LAMBDA_TRANSIENT_ERRORS: [&str; 4] = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
];

/// The directory of the state machines, relative to the workspace root.
pub const DIR: &str = "statemachines";

impl Machine {
    pub fn load(path: &Path) -> Result<Self, PipelineError> {
        let text = std::fs::read_to_string(path).map_err(|e| PipelineError::io(path, e))?;
        let definition = serde_json::from_str(&text).map_err(|e| PipelineError::parse(path, e))?;
        Ok(Self { path: path.to_owned(), definition })
    }

    /// Every `statemachines/*.asl.json` under `root`, sorted by name.
    pub fn load_all(root: &Path) -> Result<Vec<Self>, PipelineError> {
        let dir = root.join(DIR);
        let entries = std::fs::read_dir(&dir).map_err(|e| PipelineError::io(&dir, e))?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(".asl.json")))
            .collect();
        paths.sort();
        paths.iter().map(|p| Self::load(p)).collect()
    }

    pub fn file_name(&self) -> &str {
        self.path.file_name().and_then(|n| n.to_str()).unwrap_or("?")
    }

    /// The top-level scope, then every Map's item processor, depth first.
    pub fn scopes(&self) -> Vec<Scope<'_>> {
        let mut out = Vec::new();
        collect_scopes("<top>", &self.definition, &mut out);
        out
    }

    /// Every state of every scope as (scope owner, name, state).
    pub fn all_states(&self) -> Vec<(&str, &str, &Value)> {
        self.scopes().into_iter().flat_map(|s| s.states.iter().map(move |(n, v)| (s.owner, n.as_str(), v))).collect()
    }

    /// Every `${Name}` placeholder in any string of the definition.
    pub fn placeholders(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        strings(&self.definition, &mut |s| out.extend(placeholders_in(s)));
        out
    }

    /// Every error name in `ErrorEquals` (Retry and Catch) and in Fail states' `Error`.
    pub fn error_names(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for (_, _, state) in self.all_states() {
            for key in ["Retry", "Catch"] {
                for rule in state.get(key).and_then(Value::as_array).into_iter().flatten() {
                    for e in rule.get("ErrorEquals").and_then(Value::as_array).into_iter().flatten() {
                        out.extend(e.as_str().map(str::to_owned));
                    }
                }
            }
            if state_type(state) == "Fail" {
                out.extend(state.get("Error").and_then(Value::as_str).map(str::to_owned));
            }
        }
        out
    }

    /// The definition with every `${Name}` replaced by its substitution, as CloudFormation
    /// applies `DefinitionSubstitutions` (inside strings only; the file stays valid JSON).
    pub fn substituted(&self, substitutions: &BTreeMap<String, String>) -> Result<String, PipelineError> {
        let mut text = serde_json::to_string(&self.definition).map_err(|e| PipelineError::parse(&self.path, e))?;
        for name in self.placeholders() {
            let value = substitutions.get(&name).ok_or_else(|| PipelineError::Wiring {
                what: format!("{}: no substitution for ${{{name}}}", self.file_name()),
            })?;
            text = text.replace(&format!("${{{name}}}"), value);
        }
        Ok(text)
    }
}

fn collect_scopes<'a>(owner: &'a str, node: &'a Value, out: &mut Vec<Scope<'a>>) {
    let (Some(start_at), Some(states)) =
        (node.get("StartAt").and_then(Value::as_str), node.get("States").and_then(Value::as_object))
    else {
        return;
    };
    out.push(Scope { owner, start_at, states });
    for (name, state) in states {
        for key in ["ItemProcessor", "Iterator"] {
            if let Some(processor) = state.get(key) {
                collect_scopes(name, processor, out);
            }
        }
        for branch in state.get("Branches").and_then(Value::as_array).into_iter().flatten() {
            collect_scopes(name, branch, out);
        }
    }
}

pub fn state_type(state: &Value) -> &str {
    state.get("Type").and_then(Value::as_str).unwrap_or("")
}

/// Where a state can go next in its scope: `Next`, every Choice rule's `Next` and
/// `Default`, every Catch's `Next`.
pub fn targets(state: &Value) -> Vec<&str> {
    let mut out = Vec::new();
    out.extend(state.get("Next").and_then(Value::as_str));
    out.extend(state.get("Default").and_then(Value::as_str));
    for key in ["Choices", "Catch"] {
        for rule in state.get(key).and_then(Value::as_array).into_iter().flatten() {
            out.extend(rule.get("Next").and_then(Value::as_str));
        }
    }
    out
}

/// True when the state ends its scope (End, Succeed, Fail).
pub fn is_terminal(state: &Value) -> bool {
    state.get("End").and_then(Value::as_bool) == Some(true) || matches!(state_type(state), "Succeed" | "Fail")
}

/// States reachable from the scope's `StartAt`.
pub fn reachable<'a>(scope: &Scope<'a>) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![scope.start_at];
    while let Some(name) = todo.pop() {
        if !seen.insert(name) {
            continue;
        }
        if let Some(state) = scope.states.get(name) {
            todo.extend(targets(state));
        }
    }
    seen
}

/// The `${Name}` placeholders of one string.
pub fn placeholders_in(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        let tail = &rest[i + 2..];
        match tail.find('}') {
            Some(j) => {
                out.push(tail[..j].to_owned());
                rest = &tail[j + 1..];
            }
            None => break,
        }
    }
    out
}

fn strings(v: &Value, f: &mut impl FnMut(&str)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter().for_each(|x| strings(x, f)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            f(k);
            strings(x, f);
        }),
        _ => {}
    }
}

/// The Retry rule of `state` that covers `error` (first match, as Step Functions applies them).
pub fn retrier_for<'a>(state: &'a Value, error: &str) -> Option<&'a Value> {
    state.get("Retry").and_then(Value::as_array)?.iter().find(|rule| {
        rule.get("ErrorEquals")
            .and_then(Value::as_array)
            .is_some_and(|e| e.iter().any(|x| x.as_str() == Some(error) || x.as_str() == Some("States.ALL")))
    })
}
