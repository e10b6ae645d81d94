//! `sam-template.yaml` as data. CloudFormation's short-form tags (`!Ref`, `!GetAtt`, `!Sub`,
//! `!If`, ...) are kept as tagged values; [`Template::render_sub`] renders a `!Sub` string
//! with the parameters' defaults, the way CloudFormation would on a deployment that keeps
//! them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_yaml::Value;

use crate::PipelineError;

pub const FILE: &str = "sam-template.yaml";

#[derive(Debug, Clone)]
pub struct Template {
    pub doc: Value,
}

/// A Rust function of the template.
#[derive(Debug, Clone, PartialEq)]
pub struct RustFunction {
    pub logical_id: String,
    /// `Metadata.BuildProperties.Binary`.
    pub binary: String,
    /// Environment variable names: the Globals' and the function's own.
    pub env: BTreeSet<String>,
}

/// A state machine of the template.
#[derive(Debug, Clone, PartialEq)]
pub struct StateMachine {
    pub logical_id: String,
    /// The template condition that deploys it, if any (`FanOut` chooses between two).
    pub condition: Option<String>,
    pub kind: String,
    pub definition_uri: String,
    /// Substitution name → the resource its value refers to (`!GetAtt X.Arn` → `X`).
    pub substitutions: BTreeMap<String, String>,
}

impl Template {
    pub fn load(root: &Path) -> Result<Self, PipelineError> {
        let path = root.join(FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| PipelineError::io(&path, e))?;
        let doc = serde_yaml::from_str(&text).map_err(|e| PipelineError::parse(&path, e))?;
        Ok(Self { doc })
    }

    pub fn resources(&self) -> Vec<(&str, &Value)> {
        self.doc
            .get("Resources")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.as_str()?, v)))
            .collect()
    }

    pub fn resources_of_type(&self, kind: &str) -> Vec<(&str, &Value)> {
        self.resources().into_iter().filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind)).collect()
    }

    pub fn resource(&self, logical_id: &str) -> Option<&Value> {
        self.doc.get("Resources").and_then(|r| r.get(logical_id))
    }

    /// Default of every parameter, as a string (what `${Param}` renders to).
    pub fn parameter_defaults(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in self.doc.get("Parameters").and_then(Value::as_mapping).into_iter().flatten() {
            let (Some(name), Some(default)) = (k.as_str(), v.get("Default")) else { continue };
            out.insert(name.to_owned(), scalar(default));
        }
        out
    }

    /// Renders a `!Sub` string with `params` (the parameters' defaults, or a deployment's).
    pub fn render_sub(&self, value: &Value, params: &BTreeMap<String, String>) -> Result<String, PipelineError> {
        let s = match value {
            Value::Tagged(t) if t.tag == "Sub" => t.value.as_str(),
            _ => None,
        }
        .ok_or_else(|| PipelineError::Wiring { what: format!("not a !Sub string: {value:?}") })?;
        let mut out = s.to_owned();
        for name in crate::asl::placeholders_in(s) {
            let v = params.get(&name).ok_or_else(|| PipelineError::Wiring {
                what: format!("!Sub refers to ${{{name}}}, not a parameter"),
            })?;
            out = out.replace(&format!("${{{name}}}"), v);
        }
        Ok(out)
    }

    /// Whether the template condition `name` holds with `params` (parameter values by name):
    /// `!Equals` of parameters (`!Ref`) and literals, as the template writes its conditions.
    pub fn condition_holds(&self, name: &str, params: &BTreeMap<String, String>) -> Result<bool, PipelineError> {
        let wiring = |what: String| PipelineError::Wiring { what };
        let cond = self
            .doc
            .get("Conditions")
            .and_then(|c| c.get(name))
            .ok_or_else(|| wiring(format!("no condition {name}")))?;
        let operand = |v: &Value| -> Result<String, PipelineError> {
            match v {
                Value::Tagged(t) if t.tag == "Ref" => t
                    .value
                    .as_str()
                    .and_then(|p| params.get(p))
                    .cloned()
                    .ok_or_else(|| wiring(format!("{name}: {:?} is not a parameter", t.value))),
                other => Ok(scalar(other)),
            }
        };
        match cond {
            Value::Tagged(t) if t.tag == "Equals" => match t.value.as_sequence().map(Vec::as_slice) {
                Some([a, b]) => Ok(operand(a)? == operand(b)?),
                _ => Err(wiring(format!("{name}: !Equals takes two operands"))),
            },
            other => Err(wiring(format!("{name}: only !Equals conditions are understood here: {other:?}"))),
        }
    }

    /// The state machines a deployment with `params` creates (those without a condition, and
    /// those whose condition holds).
    pub fn deployed_state_machines(
        &self,
        params: &BTreeMap<String, String>,
    ) -> Result<Vec<StateMachine>, PipelineError> {
        let mut out = Vec::new();
        for sm in self.state_machines() {
            let deployed = match &sm.condition {
                Some(c) => self.condition_holds(c, params)?,
                None => true,
            };
            if deployed {
                out.push(sm);
            }
        }
        Ok(out)
    }

    /// Environment variable names set for every function (Globals).
    pub fn global_env(&self) -> BTreeSet<String> {
        env_names(self.doc.get("Globals").and_then(|g| g.get("Function")))
    }

    /// The environment of one function as written (Globals', then its own), values unresolved.
    pub fn function_env(&self, logical_id: &str) -> BTreeMap<String, Value> {
        let vars = |props: Option<&Value>| -> BTreeMap<String, Value> {
            env_vars(props).map(|(k, v)| (k.to_owned(), v.clone())).collect()
        };
        let mut env = vars(self.doc.get("Globals").and_then(|g| g.get("Function")));
        env.extend(vars(self.resource(logical_id).and_then(|r| r.get("Properties"))));
        env
    }

    /// The type of a resource (`AWS::Serverless::StateMachine`, ...).
    pub fn resource_type(&self, logical_id: &str) -> Option<&str> {
        self.resource(logical_id)?.get("Type").and_then(Value::as_str)
    }

    pub fn rust_functions(&self) -> Vec<RustFunction> {
        let globals = self.global_env();
        self.resources_of_type("AWS::Serverless::Function")
            .into_iter()
            .map(|(id, r)| RustFunction {
                logical_id: id.to_owned(),
                binary: r
                    .get("Metadata")
                    .and_then(|m| m.get("BuildProperties"))
                    .and_then(|b| b.get("Binary"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                env: globals.union(&env_names(r.get("Properties"))).cloned().collect(),
            })
            .collect()
    }

    pub fn state_machines(&self) -> Vec<StateMachine> {
        self.resources_of_type("AWS::Serverless::StateMachine")
            .into_iter()
            .map(|(id, r)| {
                let p = r.get("Properties");
                let get = |k: &str| p.and_then(|p| p.get(k)).and_then(Value::as_str).unwrap_or_default().to_owned();
                let substitutions = p
                    .and_then(|p| p.get("DefinitionSubstitutions"))
                    .and_then(Value::as_mapping)
                    .into_iter()
                    .flatten()
                    .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), referenced_resource(v)?)))
                    .collect();
                StateMachine {
                    logical_id: id.to_owned(),
                    condition: r.get("Condition").and_then(Value::as_str).map(str::to_owned),
                    kind: get("Type"),
                    definition_uri: get("DefinitionUri"),
                    substitutions,
                }
            })
            .collect()
    }

    /// Every IAM policy statement of the template: inline `Policies[].Statement` of
    /// functions and state machines, managed policies (their `!Sub` JSON rendered with
    /// `params`) and policies on generated roles (`AWS::IAM::Policy`), as (owner, statement)
    /// with the statement as JSON. SAM policy templates (`LambdaInvokePolicy`) are not
    /// statements and are left out.
    pub fn policy_statements(
        &self,
        params: &BTreeMap<String, String>,
    ) -> Result<Vec<(String, serde_json::Value)>, PipelineError> {
        let mut out = Vec::new();
        let policies = self.resources_of_type("AWS::IAM::ManagedPolicy");
        for (id, r) in policies.into_iter().chain(self.resources_of_type("AWS::IAM::Policy")) {
            let doc = r.get("Properties").and_then(|p| p.get("PolicyDocument"));
            let json: serde_json::Value = match doc {
                Some(v @ Value::Tagged(_)) => {
                    let text = self.render_sub(v, params)?;
                    serde_json::from_str(&text).map_err(|e| PipelineError::Wiring { what: format!("{id}: {e}") })?
                }
                Some(v) => yaml_to_json(v),
                None => continue,
            };
            for s in json.get("Statement").and_then(serde_json::Value::as_array).into_iter().flatten() {
                out.push((id.to_owned(), s.clone()));
            }
        }
        let owners = self.resources_of_type("AWS::Serverless::Function");
        for (id, r) in owners.into_iter().chain(self.resources_of_type("AWS::Serverless::StateMachine")) {
            let policies = r.get("Properties").and_then(|p| p.get("Policies")).and_then(Value::as_sequence);
            for p in policies.into_iter().flatten() {
                for s in p.get("Statement").and_then(Value::as_sequence).into_iter().flatten() {
                    out.push((id.to_owned(), yaml_to_json(s)));
                }
            }
        }
        Ok(out)
    }
}

/// `Environment.Variables` of a function's (or Globals') properties, by name.
fn env_vars(props: Option<&Value>) -> impl Iterator<Item = (&str, &Value)> {
    props
        .and_then(|p| p.get("Environment"))
        .and_then(|e| e.get("Variables"))
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str()?, v)))
}

fn env_names(props: Option<&Value>) -> BTreeSet<String> {
    env_vars(props).map(|(k, _)| k.to_owned()).collect()
}

/// `!GetAtt X.Arn` / `!Ref X` → `X`.
fn referenced_resource(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) if t.tag == "GetAtt" => t.value.as_str().and_then(|s| s.split('.').next()).map(str::to_owned),
        Value::Tagged(t) if t.tag == "Ref" => t.value.as_str().map(str::to_owned),
        _ => None,
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => format!("{other:?}"),
    }
}

/// A YAML value as JSON; tagged values become `{"!Tag": value}`.
pub fn yaml_to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => serde_json::from_str(&n.to_string()).unwrap_or(serde_json::Value::Null),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Sequence(s) => serde_json::Value::Array(s.iter().map(yaml_to_json).collect()),
        Value::Mapping(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| (k.as_str().map(str::to_owned).unwrap_or_else(|| scalar(k)), yaml_to_json(v)))
                .collect(),
        ),
        Value::Tagged(t) => {
            serde_json::json!({ format!("!{}", t.tag.to_string().trim_start_matches('!')): yaml_to_json(&t.value) })
        }
    }
}

/// The logical ids and parameters a value refers to with `!Ref` (anywhere inside it).
pub fn refs_in(v: &Value) -> Vec<String> {
    match v {
        Value::Tagged(t) if t.tag == "Ref" => t.value.as_str().map(str::to_owned).into_iter().collect(),
        Value::Tagged(t) => refs_in(&t.value),
        Value::Sequence(s) => s.iter().flat_map(refs_in).collect(),
        Value::Mapping(m) => m.iter().flat_map(|(_, v)| refs_in(v)).collect(),
        _ => Vec::new(),
    }
}
