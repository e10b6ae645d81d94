//! Wiring only: configuration and AWS clients built once, then the Runtime API loop.
// The handler's future nests the runner's async steps over the SDK's: deeper than the
// default layout limit.
#![recursion_limit = "256"]

use autopilot_aws::{ClientOptions, Clients, CloudWatchMetrics, ControlTable, DynamoStatsStore, LambdaControl};
use autopilot_collect::{Config, Deps, handler};
use autopilot_lambda::{init_tracing, parse_event};
use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let config = Config::from_env()?;
    init_tracing(config.log_level);
    let clients = Clients::from_env(&ClientOptions::DEFAULT).await;
    let deps = Deps {
        control: LambdaControl::new(&clients),
        stats: DynamoStatsStore::new(clients.dynamodb.clone(), config.stats_table.clone()),
        metrics: CloudWatchMetrics::new(&clients),
        store: ControlTable::new(clients.dynamodb.clone(), config.control_table.clone()),
        opt_in_tag: config.opt_in_tag.clone(),
    };
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event| async move { handler(parse_event(event)?, deps).await })).await
}
