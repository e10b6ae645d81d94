//! Wiring only: configuration and AWS clients built once, then the Runtime API loop.

use autopilot_aws::{ClientOptions, Clients, ControlTable, StepFunctionsWorkflows};
use autopilot_control::{Config, Deps, handler};
use autopilot_lambda::{init_tracing, parse_event};
use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let config = Config::from_env()?;
    init_tracing(config.log_level);
    let clients = Clients::from_env(&ClientOptions::DEFAULT).await;
    let deps = Deps {
        changes: ControlTable::new(clients.dynamodb.clone(), config.control_table.clone()),
        workflows: StepFunctionsWorkflows::new(clients.sfn.clone()),
        state_machines: config.state_machines.clone(),
    };
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event| async move { handler(parse_event(event)?, deps).await })).await
}
