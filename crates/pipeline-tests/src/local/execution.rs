//! Executions on the emulator: started with a unique name, followed until they end (polled
//! within a bounded wait), read back as the path of states they entered, their output or
//! error, and their history for failure reports.

use std::fmt;
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent};

use super::{Emulator, aws};
use crate::PipelineError;

/// How often a running execution is polled.
const POLL: Duration = Duration::from_millis(250);

/// How an execution ended: its status, the states it entered in order, its output or error,
/// and its history (one line per event).
#[derive(Debug, Clone)]
pub struct Execution {
    pub name: String,
    pub arn: String,
    pub status: String,
    /// Every state entered, in order, iterations of Map states included.
    pub path: Vec<String>,
    pub output: Option<serde_json::Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub history: Vec<String>,
}

impl Execution {
    /// How many times a state was entered (all iterations included).
    pub fn entered(&self, state: &str) -> usize {
        self.path.iter().filter(|s| *s == state).count()
    }

    /// Every result of every batch of a run's output (`batches[].results[]`).
    pub fn results(&self) -> Vec<serde_json::Value> {
        let batches = self.output.as_ref().and_then(|o| o["batches"].as_array().cloned()).unwrap_or_default();
        batches.iter().flat_map(|b| b["results"].as_array().cloned().unwrap_or_default()).collect()
    }
}

/// The path, the result and the whole history: what a failed assertion should show.
impl fmt::Display for Execution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "execution {} {}", self.name, self.status)?;
        writeln!(f, "  path: {}", self.path.join(" -> "))?;
        if let Some(o) = &self.output {
            writeln!(f, "  output: {o}")?;
        }
        if let Some(e) = &self.error {
            writeln!(f, "  error: {e}: {}", self.cause.as_deref().unwrap_or_default())?;
        }
        writeln!(f, "  history:")?;
        for line in &self.history {
            writeln!(f, "    {line}")?;
        }
        Ok(())
    }
}

/// Starts an execution of `state_machine` named `name`; returns its ARN.
pub async fn start(
    em: &Emulator,
    state_machine: &str,
    name: &str,
    input: &serde_json::Value,
) -> Result<String, PipelineError> {
    let started = em
        .clients
        .sfn
        .start_execution()
        .state_machine_arn(state_machine)
        .name(name)
        .input(input.to_string())
        .send()
        .await
        .map_err(|e| aws("StartExecution", aws_sdk_sfn::error::DisplayErrorContext(e)))?;
    Ok(started.execution_arn().to_owned())
}

/// Starts an execution with a unique `name` and waits for it to end (at most `max_wait`).
pub async fn run(
    em: &Emulator,
    state_machine: &str,
    name: &str,
    input: &serde_json::Value,
    max_wait: Duration,
) -> Result<Execution, PipelineError> {
    let arn = start(em, state_machine, name, input).await?;
    wait(em, &arn, max_wait).await
}

/// Waits for the execution `arn` to end (at most `max_wait`), then reads it back. A timeout
/// is an error that carries the history so far.
pub async fn wait(em: &Emulator, arn: &str, max_wait: Duration) -> Result<Execution, PipelineError> {
    let deadline = Instant::now() + max_wait;
    let described = loop {
        let d = em
            .clients
            .sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .map_err(|e| aws("DescribeExecution", e))?;
        if d.status() != &ExecutionStatus::Running {
            break d;
        }
        if Instant::now() > deadline {
            let (_, history) = history(em, arn).await?;
            return Err(aws(
                "execution",
                format!("{arn} still running after {max_wait:?}; history:\n  {}", history.join("\n  ")),
            ));
        }
        tokio::time::sleep(POLL).await;
    };
    let (path, history) = history(em, arn).await?;
    Ok(Execution {
        name: described.name().unwrap_or_default().to_owned(),
        arn: arn.to_owned(),
        status: described.status().as_str().to_owned(),
        path,
        output: described.output().and_then(|o| serde_json::from_str(o).ok()),
        error: described.error().map(str::to_owned),
        cause: described.cause().map(str::to_owned),
        history,
    })
}

/// The states entered, in order, and one line per history event.
async fn history(em: &Emulator, arn: &str) -> Result<(Vec<String>, Vec<String>), PipelineError> {
    let (mut path, mut lines) = (Vec::new(), Vec::new());
    let mut token = None;
    loop {
        let page = em
            .clients
            .sfn
            .get_execution_history()
            .execution_arn(arn)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| aws("GetExecutionHistory", e))?;
        for e in page.events() {
            let kind = e.r#type().as_str();
            if let Some(d) = e.state_entered_event_details()
                && kind.ends_with("StateEntered")
            {
                path.push(d.name().to_owned());
            }
            lines.push(describe(e));
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    Ok((path, lines))
}

fn describe(e: &HistoryEvent) -> String {
    let mut line = format!("{:>3} {}", e.id(), e.r#type().as_str());
    if let Some(d) = e.state_entered_event_details() {
        line.push_str(&format!(" {}", d.name()));
    }
    let failure = e
        .task_failed_event_details()
        .map(|d| (d.error(), d.cause()))
        .or_else(|| e.lambda_function_failed_event_details().map(|d| (d.error(), d.cause())))
        .or_else(|| e.execution_failed_event_details().map(|d| (d.error(), d.cause())));
    if let Some((error, cause)) = failure {
        line.push_str(&format!(" error={} cause={}", error.unwrap_or_default(), cause.unwrap_or_default()));
    }
    line
}
