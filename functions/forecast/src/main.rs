//! Wiring only: configuration and AWS clients built once, then the Runtime API loop.
// The handler's future nests the runner's async steps over the SDK's: deeper than the
// default layout limit.
#![recursion_limit = "256"]

use autopilot_aws::{ClientOptions, Clients, ControlTable};
use autopilot_forecast::{Config, Deps, handler};
use autopilot_lambda::{init_tracing, parse_event};
use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let config = Config::from_env()?;
    init_tracing(config.log_level);
    let clients = Clients::from_env(&ClientOptions::DEFAULT).await;
    let deps = Deps { store: ControlTable::new(clients.dynamodb.clone(), config.control_table.clone()) };
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event| async move { handler(parse_event(event)?, deps).await })).await
}
