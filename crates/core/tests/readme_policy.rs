//! The README documents the policy; these tests hold it to the code: every field of the
//! default policy is in the README's table with the default the code has, nothing else is,
//! and the README's example policy parses.

use std::collections::BTreeMap;

use autopilot_core::policy::Policy;
use serde_json::Value;

fn readme() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    std::fs::read_to_string(path).expect("README.md at the workspace root")
}

/// The body of the `## Policy` section.
fn policy_section(readme: &str) -> &str {
    let start = readme.find("\n## Policy\n").expect("README has a '## Policy' section");
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    &rest[..end]
}

/// `field path → default cell` of the table rows that start with a backticked field.
fn table(section: &str) -> BTreeMap<String, String> {
    section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let field = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((field.to_owned(), cells.get(2)?.to_string()))
        })
        .collect()
}

fn leaves(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                leaves(&path, v, out);
            }
        }
        other => {
            out.insert(prefix.to_owned(), other.clone());
        }
    }
}

/// Reads a README default cell as JSON: `none` is null, a backticked value is literal JSON.
fn cell_value(cell: &str) -> Value {
    let raw = cell.trim_matches('`');
    if raw == "none" {
        return Value::Null;
    }
    serde_json::from_str(raw).unwrap_or_else(|e| panic!("README default {cell:?} is not a JSON value: {e}"))
}

#[test]
fn the_policy_table_lists_every_field_with_its_default() {
    let text = readme();
    let documented = table(policy_section(&text));
    let mut defaults = BTreeMap::new();
    leaves("", &serde_json::to_value(Policy::default()).unwrap(), &mut defaults);

    let missing: Vec<_> = defaults.keys().filter(|k| !documented.contains_key(*k)).collect();
    assert!(missing.is_empty(), "policy fields missing from the README table: {missing:?}");
    let unknown: Vec<_> = documented.keys().filter(|k| !defaults.contains_key(*k)).collect();
    assert!(unknown.is_empty(), "README documents fields the policy does not have: {unknown:?}");
    for (field, default) in &defaults {
        let readme_value = cell_value(&documented[field]);
        let same = match (default, &readme_value) {
            (Value::Number(a), Value::Number(b)) => (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-12,
            (a, b) => a == b,
        };
        assert!(same, "README says {field} defaults to {readme_value}, the code says {default}");
    }
}

#[test]
fn the_readme_example_policy_parses() {
    let text = readme();
    let section = policy_section(&text);
    let start = section.find("```json\n").expect("the Policy section has a JSON example") + 8;
    let end = start + section[start..].find("```").unwrap();
    let policy = Policy::from_json(&section[start..end]).expect("the README's example is a valid policy");
    assert!(policy.mode.applies_changes());
}
