//! Wiring between the template, the state machines and the code: placeholders and their
//! substitutions, each function's environment and package, the tables' schemas, IAM, and the
//! scheduled inputs.

use std::collections::{BTreeMap, BTreeSet};

use autopilot_aws::dynamo::control;
use autopilot_core::stats_item;
use autopilot_pipeline_tests::asl::Machine;
use autopilot_pipeline_tests::template::{Template, yaml_to_json};
use autopilot_runner::contract::CollectInput;
use serde_json::{Value, json};

fn template() -> Template {
    Template::load(&autopilot_pipeline_tests::root()).expect("template loads")
}

#[test]
fn every_placeholder_has_a_substitution_and_every_substitution_is_used() {
    let t = template();
    let root = autopilot_pipeline_tests::root();
    let functions: BTreeSet<String> = t.rust_functions().into_iter().map(|f| f.logical_id).collect();
    let sms = t.state_machines();
    assert!(sms.len() >= 3);
    for sm in &sms {
        let m = Machine::load(&root.join(&sm.definition_uri)).expect("DefinitionUri is a state machine file");
        let used = m.placeholders();
        let given: BTreeSet<String> = sm.substitutions.keys().cloned().collect();
        assert_eq!(used, given, "{}: placeholders of {} vs DefinitionSubstitutions", sm.logical_id, sm.definition_uri);
        for (name, resource) in &sm.substitutions {
            assert!(functions.contains(resource), "{}: {name} refers to {resource}, not a function", sm.logical_id);
        }
        let substituted = m.substituted(&sm.substitutions).unwrap();
        assert!(!substituted.contains("${"), "{}: unsubstituted placeholder", sm.logical_id);
    }
    let files: BTreeSet<String> =
        Machine::load_all(&root).unwrap().iter().map(|m| format!("statemachines/{}", m.file_name())).collect();
    let deployed: BTreeSet<String> = sms.iter().map(|s| s.definition_uri.clone()).collect();
    for f in &files {
        assert!(
            deployed.contains(f) || f.ends_with("-distributed.asl.json"),
            "{f} is neither deployed nor the documented variant"
        );
    }
}

/// Config::VARS of each package: what its `from_lookup` reads.
fn vars_of(binary: &str) -> &'static [&'static str] {
    match binary {
        "autopilot-collect" => autopilot_collect::Config::VARS,
        "autopilot-forecast" => autopilot_forecast::Config::VARS,
        "autopilot-tune-memory" => autopilot_tune_memory::Config::VARS,
        "autopilot-apply-concurrency" => autopilot_apply_concurrency::Config::VARS,
        "autopilot-rollback" => autopilot_rollback::Config::VARS,
        "autopilot-control" => autopilot_control::Config::VARS,
        other => panic!("{other}: no package in functions/"),
    }
}

#[test]
fn every_function_has_a_package_and_exactly_the_environment_it_reads() {
    let t = template();
    let root = autopilot_pipeline_tests::root();
    let fns = t.rust_functions();
    assert_eq!(fns.len(), 6, "the five steps and the control endpoint");
    for f in &fns {
        let dir = f.binary.trim_start_matches("autopilot-");
        let manifest = std::fs::read_to_string(root.join("functions").join(dir).join("Cargo.toml"))
            .unwrap_or_else(|e| panic!("{}: functions/{dir}/Cargo.toml: {e}", f.logical_id));
        assert!(manifest.contains(&format!("name = \"{}\"", f.binary)), "{}: no binary {}", f.logical_id, f.binary);
        let reads: BTreeSet<String> = vars_of(&f.binary).iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(f.env, reads, "{}: template sets vs Config::VARS", f.logical_id);
        let r = t.resource(&f.logical_id).unwrap();
        assert_eq!(r["Metadata"]["BuildMethod"].as_str(), Some("rust-cargolambda"), "{}", f.logical_id);
    }
    let globals = &t.doc["Globals"]["Function"];
    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(globals["Architectures"][0].as_str(), Some("arm64"));
}

#[test]
fn tables_are_declared_as_the_code_reads_and_writes_them() {
    let t = template();
    let stats = yaml_to_json(&t.resource("StatsTable").unwrap()["Properties"]);
    assert_eq!(
        stats["KeySchema"],
        json!([
        {"AttributeName": stats_item::PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": stats_item::SORT_KEY, "KeyType": "RANGE"}])
    );
    assert_eq!(stats["TimeToLiveSpecification"]["AttributeName"], stats_item::TTL_ATTRIBUTE);
    let ctl = yaml_to_json(&t.resource("ControlTable").unwrap()["Properties"]);
    assert_eq!(
        ctl["KeySchema"],
        json!([
        {"AttributeName": control::PK, "KeyType": "HASH"}, {"AttributeName": control::SK, "KeyType": "RANGE"}])
    );
    assert_eq!(ctl["TimeToLiveSpecification"]["AttributeName"], control::TTL_ATTRIBUTE);
    let lsi = &ctl["LocalSecondaryIndexes"][0];
    assert_eq!(lsi["IndexName"], control::BY_TIME_INDEX);
    assert_eq!(lsi["KeySchema"][1]["AttributeName"], control::CHANGE_AT);
    assert_eq!(lsi["Projection"]["ProjectionType"], "ALL");
    for table in [&stats, &ctl] {
        assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
        assert_eq!(table["SSESpecification"]["SSEEnabled"], true);
        assert_eq!(table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true);
        assert_eq!(table["TimeToLiveSpecification"]["Enabled"], true);
        for a in table["AttributeDefinitions"].as_array().unwrap() {
            assert_eq!(a["AttributeType"], "S");
        }
    }
}

/// Actions each function may use, and the port call that needs each. A new call in a
/// handler needs a line here and in the template; an action nothing calls is refused.
fn allowed(owner: &str) -> &'static [&'static str] {
    match owner {
        // list_functions (tagging API, GetFunction, ListAliases), CloudWatch fallback
        // (GetFunctionConfiguration, GetMetricData), stats Query, summary PutItem/Query
        "CollectFunction" => &[
            "tag:GetResources",
            "lambda:GetFunction",
            "lambda:GetFunctionConfiguration",
            "lambda:ListAliases",
            "dynamodb:Query",
            "dynamodb:PutItem",
            "cloudwatch:GetMetricData",
        ],
        // summaries and act records read, forecasts written; the kept model read every run,
        // the model and its history written (and the history read) at refits
        "ForecastFunction" => &["dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem"],
        "TuneMemoryFunction" | "TuneMemoryFleetPolicy" => &[
            "lambda:GetFunction",
            "lambda:GetFunctionConfiguration",
            "lambda:ListAliases",
            "lambda:UpdateFunctionConfiguration",
            "lambda:PublishVersion",
            "lambda:CreateAlias",
            "lambda:UpdateAlias",
            // the tuner's look-back read and written each run
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:Query",
            "events:PutEvents",
        ],
        "ApplyConcurrencyFunction" | "ApplyConcurrencyFleetPolicy" => &[
            "lambda:GetFunction",
            "lambda:ListAliases",
            "lambda:GetProvisionedConcurrencyConfig",
            "lambda:PutProvisionedConcurrencyConfig",
            "lambda:DeleteProvisionedConcurrencyConfig",
            "lambda:InvokeFunction",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:Query",
            "events:PutEvents",
        ],
        "RollbackFunction" | "RollbackFleetPolicy" => &[
            "lambda:GetFunction",
            "lambda:GetFunctionConfiguration",
            "lambda:ListAliases",
            "lambda:GetProvisionedConcurrencyConfig",
            "lambda:UpdateFunctionConfiguration",
            "lambda:CreateAlias",
            "lambda:UpdateAlias",
            "lambda:PutProvisionedConcurrencyConfig",
            "lambda:DeleteProvisionedConcurrencyConfig",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:Query",
            "events:PutEvents",
        ],
        // history (byTime index), recent runs (ListExecutions + DescribeExecution), manual
        // rollback (StartExecution of the rollback state machine)
        "ControlFunction" => {
            &["dynamodb:Query", "states:ListExecutions", "states:DescribeExecution", "states:StartExecution"]
        }
        // a Distributed Map starts, follows and stops its child executions
        "MemoryRunDistributedChildrenPolicy" => {
            &["states:StartExecution", "states:DescribeExecution", "states:StopExecution"]
        }
        "StatsWriterPolicy" => &["dynamodb:UpdateItem"],
        other => panic!("policy statements of {other} are not expected"),
    }
}

fn is_read_only(action: &str) -> bool {
    let op = action.split(':').nth(1).unwrap_or(action);
    ["Get", "List", "Describe", "Query", "Scan", "BatchGet"].iter().any(|p| op.starts_with(p))
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        other => vec![other.to_string()],
    }
}

#[test]
fn iam_is_least_privilege_and_fleet_changes_need_the_opt_in_tag() {
    let t = template();
    let mut params = t.parameter_defaults();
    for (k, v) in [("AWS::Partition", "aws"), ("AWS::Region", "us-east-1"), ("AWS::AccountId", "123456789012")] {
        params.insert(k.to_owned(), v.to_owned());
    }
    let tag = &params["OptInTag"].clone();
    let statements = t.policy_statements(&params).unwrap();
    assert!(statements.len() >= 10);
    let mut granted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (owner, s) in &statements {
        let actions = strings(&s["Action"]);
        let resources = strings(&s["Resource"]);
        for a in &actions {
            assert!(allowed(owner).contains(&a.as_str()), "{owner}: {a} is not used by its code");
            assert!(!a.contains('*'), "{owner}: wildcard action {a}");
            if !is_read_only(a) {
                assert!(!resources.iter().any(|r| r == "*"), "{owner}: mutating {a} on *");
            }
            if a.starts_with("lambda:") && !is_read_only(a) {
                let cond = &s["Condition"]["Null"][format!("aws:ResourceTag/{tag}")];
                assert_eq!(cond, "false", "{owner}: {a} without the opt-in tag condition");
            }
            let function = owner.replace("FleetPolicy", "Function");
            granted.entry(function).or_default().insert(a.clone());
        }
    }
    for f in ["ControlFunction"] {
        for a in allowed(f) {
            assert!(granted[f].contains(*a), "{f}: {a} is needed by its code but not granted");
        }
    }
    for f in ["TuneMemoryFunction", "ApplyConcurrencyFunction", "RollbackFunction"] {
        let policies = yaml_to_json(&t.resource(f).unwrap()["Properties"]["Policies"]);
        let fleet = f.replace("Function", "FleetPolicy");
        assert!(policies.as_array().unwrap().iter().any(|p| p == &json!({"!Ref": fleet})), "{f} has {fleet}");
        for a in allowed(f) {
            assert!(granted[f].contains(*a), "{f}: {a} is needed by its code but not granted");
        }
    }
}

/// The scheduled inputs, rendered with the parameters' defaults, are what collect accepts
/// once the state machine adds `executionId` and `now`; the policy validates.
#[test]
fn scheduled_inputs_are_valid_execution_inputs() {
    let t = template();
    let params = t.parameter_defaults();
    let mut seen = BTreeMap::new();
    for sm in t.state_machines() {
        let events = &t.resource(&sm.logical_id).unwrap()["Properties"]["Events"];
        for (_, e) in events.as_mapping().into_iter().flatten() {
            if e["Type"].as_str() != Some("ScheduleV2") {
                continue;
            }
            let input: Value =
                serde_json::from_str(&t.render_sub(&e["Properties"]["Input"], &params).unwrap()).unwrap();
            let mut full = input.clone();
            full["executionId"] = json!("scheduled-1");
            full["now"] = json!("2026-11-27T03:00:02.417Z");
            let parsed: CollectInput =
                serde_json::from_value(full).unwrap_or_else(|e| panic!("{}: {e}", sm.logical_id));
            parsed.policy.validate().unwrap();
            seen.insert(input["run"].as_str().unwrap().to_owned(), (sm.kind.clone(), e.clone()));
        }
    }
    assert_eq!(seen["memory"].0, "STANDARD");
    assert_eq!(seen["concurrency"].0, "EXPRESS", "the frequent loop runs as Express (our own bill)");
    let every = t.render_sub(&seen["concurrency"].1["Properties"]["ScheduleExpression"], &params).unwrap();
    assert_eq!(every, "rate(4 minutes)");
}

fn resource(t: &Template, id: &str) -> Value {
    yaml_to_json(t.resource(id).unwrap_or_else(|| panic!("no resource {id}")))
}

/// The IAM statements of one owner, by action.
fn statements_of(t: &Template, owner: &str) -> BTreeMap<String, Vec<Value>> {
    let mut params = t.parameter_defaults();
    for (k, v) in [("AWS::Partition", "aws"), ("AWS::Region", "us-east-1"), ("AWS::AccountId", "123456789012")] {
        params.insert(k.to_owned(), v.to_owned());
    }
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (o, s) in t.policy_statements(&params).unwrap() {
        if o == owner {
            for a in strings(&s["Action"]) {
                out.entry(a).or_default().push(s["Resource"].clone());
            }
        }
    }
    out
}

/// The control endpoint: a Function URL signed with SigV4; it reads the memory run that is
/// deployed and the rollback machine, starts only the rollback machine, reads the change log
/// through its index only, and is told both state machines.
#[test]
fn the_control_endpoint_is_iam_signed_and_can_start_only_a_rollback() {
    let t = template();
    let f = resource(&t, "ControlFunction");
    assert_eq!(f["Properties"]["FunctionUrlConfig"]["AuthType"], "AWS_IAM");
    let memory_run = json!({"!If": ["DistributedFanOut",
        {"!Ref": "MemoryRunDistributedStateMachine"}, {"!Ref": "MemoryRunStateMachine"}]});
    let env = &f["Properties"]["Environment"]["Variables"];
    assert_eq!(env[autopilot_control::MEMORY_RUN_STATE_MACHINE], memory_run);
    assert_eq!(env[autopilot_control::ROLLBACK_STATE_MACHINE], json!({"!Ref": "RollbackStateMachine"}));
    let s = statements_of(&t, "ControlFunction");
    assert_eq!(s["states:StartExecution"], [json!({"!Ref": "RollbackStateMachine"})]);
    assert_eq!(s["states:ListExecutions"], [json!([memory_run, {"!Ref": "RollbackStateMachine"}])]);
    let described = s["states:DescribeExecution"][0].to_string();
    for name in ["MemoryRunStateMachine.Name", "MemoryRunDistributedStateMachine.Name", "RollbackStateMachine.Name"] {
        assert!(described.contains(name), "DescribeExecution on the executions of {name}: {described}");
    }
    assert!(!described.contains("ConcurrencyRun"), "Express executions cannot be listed or described");
    assert_eq!(s["dynamodb:Query"], [json!({"!Sub": "${ControlTable.Arn}/index/byTime"})]);
    let outputs = yaml_to_json(&t.doc["Outputs"]);
    assert_eq!(outputs["ControlUrl"]["Value"], json!({"!GetAtt": "ControlFunctionUrl.FunctionUrl"}));
}

/// `FanOut` deploys exactly one memory-run state machine: the inline ASL, or the distributed
/// one with the permissions its child executions need; both run on the same schedule and
/// rule, with the same substitutions and invoke policies.
#[test]
fn fan_out_chooses_the_inline_or_the_distributed_memory_run() {
    let t = template();
    let fan_out = yaml_to_json(&t.doc["Parameters"]["FanOut"]);
    assert_eq!(fan_out["AllowedValues"], json!(["inline", "distributed"]));
    assert_eq!(fan_out["Default"], "inline");
    let root = autopilot_pipeline_tests::root();
    let memory_runs = |value: &str| {
        let mut params = t.parameter_defaults();
        params.insert("FanOut".to_owned(), value.to_owned());
        let deployed = t.deployed_state_machines(&params).unwrap();
        let memory: Vec<_> = deployed.into_iter().filter(|sm| sm.logical_id.starts_with("MemoryRun")).collect();
        assert_eq!(memory.len(), 1, "FanOut={value}: {memory:?}");
        memory.into_iter().next().unwrap()
    };
    let (inline, distributed) = (memory_runs("inline"), memory_runs("distributed"));
    assert_eq!(inline.logical_id, "MemoryRunStateMachine");
    assert_eq!(distributed.logical_id, "MemoryRunDistributedStateMachine");
    for (sm, mode) in [(&inline, "INLINE"), (&distributed, "DISTRIBUTED")] {
        assert_eq!(sm.kind, "STANDARD", "a Distributed Map needs a Standard parent");
        let m = Machine::load(&root.join(&sm.definition_uri)).unwrap();
        for batches in ["MemoryBatches", "ConcurrencyBatches"] {
            assert_eq!(m.definition["States"][batches]["ItemProcessor"]["ProcessorConfig"]["Mode"], mode);
        }
    }
    assert_eq!(inline.substitutions, distributed.substitutions);
    let (a, b) = (resource(&t, &inline.logical_id), resource(&t, &distributed.logical_id));
    assert_eq!(a["Properties"]["Policies"], b["Properties"]["Policies"]);
    assert_eq!(a["Properties"]["Events"], b["Properties"]["Events"]);

    let children = resource(&t, "MemoryRunDistributedChildrenPolicy");
    assert_eq!(children["Condition"], "DistributedFanOut");
    assert_eq!(children["Properties"]["Roles"], json!([{"!Ref": "MemoryRunDistributedStateMachineRole"}]));
    let s = statements_of(&t, "MemoryRunDistributedChildrenPolicy");
    assert_eq!(s["states:StartExecution"], [json!({"!Ref": "MemoryRunDistributedStateMachine"})]);
    for a in ["states:DescribeExecution", "states:StopExecution"] {
        let r = s[a][0].to_string();
        assert!(r.contains(":execution:${Name}/*") && r.contains("MemoryRunDistributedStateMachine.Name"), "{a}: {r}");
    }
}
