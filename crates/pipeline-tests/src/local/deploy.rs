//! The stack's resources created on the emulator from `sam-template.yaml` and the ASL files.
//!
//! How the local stack differs from a deployment: every name carries a unique prefix (tests
//! run in parallel against one emulator); each function runs its debug binary
//! (`LOCAL_BOOTSTRAP`) instead of a zip; every state machine is created Standard (the
//! emulator keeps the history of Standard executions, which the tests and `autopilot local`
//! read); the state machines and the functions' `!If`s follow the parameters' defaults
//! (`FanOut=inline`: the emulator's ASL parser refuses the Distributed Map's `EXPRESS`
//! children and `ToleratedFailurePercentage`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Architecture, Environment, FunctionCode, Runtime};
use aws_sdk_sfn::types::StateMachineType;
use serde_yaml::Value;

use autopilot_aws::dynamo::tables::{create_control_table, create_stats_table};

use super::{Emulator, aws};
use crate::PipelineError;
use crate::asl::Machine;
use crate::template::{RustFunction, Template, refs_in};

/// What [`deploy`] created, by the template's logical ids.
#[derive(Debug, Clone)]
pub struct Stack {
    pub prefix: String,
    pub stats_table: String,
    pub control_table: String,
    pub opt_in_tag: String,
    pub role: String,
    /// Logical id → function name.
    pub functions: BTreeMap<String, String>,
    /// Logical id → state machine ARN.
    pub state_machines: BTreeMap<String, String>,
}

impl Stack {
    pub fn function(&self, logical_id: &str) -> &str {
        self.functions.get(logical_id).map_or("", String::as_str)
    }

    pub fn state_machine(&self, logical_id: &str) -> &str {
        self.state_machines.get(logical_id).map_or("", String::as_str)
    }
}

/// How the local stack differs from a deployment.
#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    /// Where the built binaries are (`target/debug`).
    pub bin_dir: PathBuf,
    /// Environment overrides per function logical id (fault injection).
    pub env_overrides: BTreeMap<String, BTreeMap<String, String>>,
}

/// An empty zip: Lambda needs some code; the emulator runs `LOCAL_BOOTSTRAP` instead.
pub(crate) fn empty_zip() -> Vec<u8> {
    let mut z = b"PK\x05\x06".to_vec();
    z.extend([0u8; 18]);
    z
}

/// The value a template expression takes in the local stack: parameters (the opt-in tag is
/// the stack's own, the bus the default one), tables, state machines; `!If` with the
/// parameters' defaults.
fn resolve(v: &Value, t: &Template, stack: &Stack, params: &BTreeMap<String, String>) -> Result<String, PipelineError> {
    let unknown = |what: String| PipelineError::Wiring { what };
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Tagged(tag) if tag.tag == "Ref" => {
            let id = tag.value.as_str().unwrap_or_default();
            match id {
                "OptInTag" => Ok(stack.opt_in_tag.clone()),
                "EventBusName" => Ok("default".to_owned()),
                "StatsTable" => Ok(stack.stats_table.clone()),
                "ControlTable" => Ok(stack.control_table.clone()),
                _ if params.contains_key(id) => Ok(params[id].clone()),
                _ => stack
                    .state_machines
                    .get(id)
                    .or_else(|| stack.functions.get(id))
                    .cloned()
                    .ok_or_else(|| unknown(format!("!Ref {id}: not created locally (yet)"))),
            }
        }
        Value::Tagged(tag) if tag.tag == "If" => match tag.value.as_sequence().map(Vec::as_slice) {
            Some([Value::String(cond), a, b]) => {
                resolve(if t.condition_holds(cond, params)? { a } else { b }, t, stack, params)
            }
            _ => Err(unknown(format!("!If {:?}: expected [condition, then, else]", tag.value))),
        },
        other => Err(unknown(format!("{other:?}: no local value"))),
    }
}

/// True when the function's environment refers to a state machine (created after them).
fn needs_state_machines(t: &Template, f: &RustFunction) -> bool {
    t.function_env(&f.logical_id)
        .values()
        .flat_map(refs_in)
        .any(|id| t.resource_type(&id) == Some("AWS::Serverless::StateMachine"))
}

async fn create_function(
    em: &Emulator,
    t: &Template,
    stack: &Stack,
    f: &RustFunction,
    opts: &DeployOptions,
) -> Result<(String, String), PipelineError> {
    let params = t.parameter_defaults();
    let name = format!("{}-{}", stack.prefix, f.binary.trim_start_matches("autopilot-"));
    let mut env = BTreeMap::new();
    for (var, value) in t.function_env(&f.logical_id) {
        env.insert(var.clone(), resolve(&value, t, stack, &params).map_err(|e| aws(&f.logical_id, e))?);
    }
    let bin = opts.bin_dir.join(&f.binary);
    if !bin.exists() {
        return Err(PipelineError::Wiring {
            what: format!("{} is not built (cargo build -p {})", bin.display(), f.binary),
        });
    }
    env.insert("LOCAL_BOOTSTRAP".to_owned(), bin.display().to_string());
    env.extend(opts.env_overrides.get(&f.logical_id).cloned().unwrap_or_default());
    let properties = t.resource(&f.logical_id).and_then(|r| r.get("Properties"));
    let timeout = properties.and_then(|p| p.get("Timeout")).and_then(Value::as_i64).unwrap_or(120);
    let out = em
        .clients
        .lambda
        .create_function()
        .function_name(&name)
        .runtime(Runtime::Providedal2023)
        .architectures(Architecture::Arm64)
        .handler("bootstrap")
        .role(&stack.role)
        .timeout(i32::try_from(timeout).unwrap_or(120))
        .memory_size(256)
        .code(FunctionCode::builder().zip_file(Blob::new(empty_zip())).build())
        .environment(Environment::builder().set_variables(Some(env.into_iter().collect())).build())
        .send()
        .await
        .map_err(|e| aws(&format!("CreateFunction {name}"), aws_sdk_lambda::error::DisplayErrorContext(e)))?;
    Ok((name, out.function_arn().unwrap_or_default().to_owned()))
}

/// Creates the stack's resources on the emulator from the template and the ASL files.
pub async fn deploy(em: &Emulator, root: &Path, prefix: &str, opts: &DeployOptions) -> Result<Stack, PipelineError> {
    let t = Template::load(root)?;
    let mut stack = Stack {
        prefix: prefix.to_owned(),
        stats_table: format!("{prefix}-stats"),
        control_table: format!("{prefix}-control"),
        opt_in_tag: format!("{prefix}-optin"),
        role: em.create_role(&format!("{prefix}-role"))?,
        functions: BTreeMap::new(),
        state_machines: BTreeMap::new(),
    };
    create_stats_table(&em.clients.dynamodb, &stack.stats_table).await.map_err(|e| aws("stats table", e))?;
    create_control_table(&em.clients.dynamodb, &stack.control_table).await.map_err(|e| aws("control table", e))?;
    let (late, early): (Vec<_>, Vec<_>) = t.rust_functions().into_iter().partition(|f| needs_state_machines(&t, f));
    let mut arns = BTreeMap::new();
    for f in &early {
        let (name, arn) = create_function(em, &t, &stack, f, opts).await?;
        arns.insert(f.logical_id.clone(), arn);
        stack.functions.insert(f.logical_id.clone(), name);
    }
    // The state machines a deployment with the default parameters creates (FanOut=inline):
    // the emulator's ASL interpreter has no Distributed Map.
    for sm in t.deployed_state_machines(&t.parameter_defaults())? {
        let machine = Machine::load(&root.join(&sm.definition_uri))?;
        let values: BTreeMap<String, String> =
            sm.substitutions.iter().map(|(k, id)| (k.clone(), arns.get(id).cloned().unwrap_or_default())).collect();
        let out = em
            .clients
            .sfn
            .create_state_machine()
            .name(format!("{prefix}-{}", sm.logical_id.trim_end_matches("StateMachine")))
            .definition(machine.substituted(&values)?)
            .role_arn(&stack.role)
            .r#type(StateMachineType::Standard)
            .send()
            .await
            .map_err(|e| {
                aws(&format!("CreateStateMachine {}", sm.logical_id), aws_sdk_sfn::error::DisplayErrorContext(e))
            })?;
        stack.state_machines.insert(sm.logical_id.clone(), out.state_machine_arn().to_owned());
    }
    for f in &late {
        let (name, _) = create_function(em, &t, &stack, f, opts).await?;
        stack.functions.insert(f.logical_id.clone(), name);
    }
    Ok(stack)
}

/// Builds the template's function binaries (debug) with the cargo that runs this, and returns
/// their directory. Cargo rebuilds only what changed.
pub fn build_functions(root: &Path) -> Result<PathBuf, PipelineError> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let template = Template::load(root)?;
    let mut cmd = std::process::Command::new(cargo);
    cmd.current_dir(root).arg("build").arg("--quiet");
    for f in template.rust_functions() {
        cmd.arg("-p").arg(&f.binary);
    }
    let status = cmd.status().map_err(|e| aws("cargo build", e))?;
    if !status.success() {
        return Err(aws("cargo build of the functions", status));
    }
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root.join("target"));
    Ok(target.join("debug"))
}
