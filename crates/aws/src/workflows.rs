//! [`Workflows`] over Step Functions: the recent executions of a state machine (`ListExecutions`,
//! then `DescribeExecution` of each finished one for its output or error) and
//! `StartExecution`.
//!
//! `ListExecutions` works for Standard workflows only (Express executions are not listed;
//! their history is in CloudWatch Logs when logging is on).

use autopilot_core::ports::{ErrorKind, PortResult, WorkflowRun, Workflows};
use aws_sdk_sfn::types::ExecutionStatus;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

use crate::error::{ClassifyExt, port_error};

/// Most executions one [`Workflows::recent_runs`] call reads (one `ListExecutions` page,
/// then one `DescribeExecution` each).
pub const MAX_RECENT_RUNS: usize = 50;

#[derive(Debug, Clone)]
pub struct StepFunctionsWorkflows {
    client: aws_sdk_sfn::Client,
}

impl StepFunctionsWorkflows {
    pub fn new(client: aws_sdk_sfn::Client) -> Self {
        Self { client }
    }
}

fn iso(t: &DateTime) -> String {
    t.fmt(Format::DateTime).unwrap_or_else(|_| t.secs().to_string())
}

impl Workflows for StepFunctionsWorkflows {
    async fn recent_runs(&self, state_machine: &str, limit: usize) -> PortResult<Vec<WorkflowRun>> {
        let limit = limit.clamp(1, MAX_RECENT_RUNS);
        let page = self
            .client
            .list_executions()
            .state_machine_arn(state_machine)
            .max_results(i32::try_from(limit).unwrap_or(1))
            .send()
            .await
            .classify("StepFunctions.ListExecutions")?;
        let mut items: Vec<_> = page.executions().to_vec();
        // Newest first (the service's order; made explicit).
        items.sort_by(|a, b| b.start_date().cmp(a.start_date()));
        items.truncate(limit);
        let mut runs = Vec::with_capacity(items.len());
        for item in items {
            let mut run = WorkflowRun {
                name: item.name().to_owned(),
                status: item.status().as_str().to_owned(),
                started_at: iso(item.start_date()),
                stopped_at: item.stop_date().map(iso),
                output: None,
                error: None,
                cause: None,
            };
            if item.status() != &ExecutionStatus::Running {
                let d = self
                    .client
                    .describe_execution()
                    .execution_arn(item.execution_arn())
                    .send()
                    .await
                    .classify("StepFunctions.DescribeExecution")?;
                run.output = d.output().and_then(|o| serde_json::from_str(o).ok());
                run.error = d.error().map(str::to_owned);
                run.cause = d.cause().map(str::to_owned);
            }
            runs.push(run);
        }
        Ok(runs)
    }

    async fn start(&self, state_machine: &str, name: &str, input: &serde_json::Value) -> PortResult<String> {
        const OP: &str = "StepFunctions.StartExecution";
        let input = serde_json::to_string(input)
            .map_err(|e| port_error(ErrorKind::InvalidInput, OP, format!("input not serializable: {e}")))?;
        let out = self
            .client
            .start_execution()
            .state_machine_arn(state_machine)
            .name(name)
            .input(input)
            .send()
            .await
            .classify(OP)?;
        Ok(out.execution_arn().to_owned())
    }
}
