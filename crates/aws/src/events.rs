//! [`EventSink`] over EventBridge: one event per decision.
//!
//! Each [`DecisionEvent`] becomes an entry with source [`EVENT_SOURCE`], the decision's
//! detail-type (see [`autopilot_core::ports::detail_type`]), the decision minute as its time,
//! and the whole `DecisionEvent` JSON as `detail`. `PutEvents` takes at most 10 entries: the
//! events are sent in batches of 10. A batch can partly fail (`FailedEntryCount`): only the
//! failed entries are sent again — never the delivered ones, which would duplicate them —
//! when their error code is transient, up to [`EventBridgeSink::PARTIAL_RETRIES`] times;
//! what still failed is returned as one error listing each entry and its code.

use std::time::Duration;

use autopilot_core::ports::{DecisionEvent, EVENT_SOURCE, ErrorKind, EventSink, PortResult};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_smithy_types::DateTime;

use crate::error::{ClassifyExt, kind_of_code, port_error};
use crate::retry::RetryPolicy;

/// Largest batch PutEvents accepts.
pub const MAX_ENTRIES_PER_CALL: usize = 10;

const OP: &str = "EventBridge.PutEvents";

#[derive(Debug, Clone)]
pub struct EventBridgeSink {
    client: aws_sdk_eventbridge::Client,
    bus: String,
    backoff: RetryPolicy,
}

impl EventBridgeSink {
    /// Resends of the failed entries of a batch, after the first attempt.
    pub const PARTIAL_RETRIES: u32 = 2;

    /// Events go to `bus` (`"default"` for the account's default bus).
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
            backoff: RetryPolicy {
                max_attempts: Self::PARTIAL_RETRIES + 1,
                base_delay: Duration::from_millis(200),
                max_delay: Duration::from_secs(2),
            },
        }
    }

    /// The waits between resends of failed entries.
    pub fn with_backoff(mut self, backoff: RetryPolicy) -> Self {
        self.backoff = backoff;
        self
    }

    fn entry(&self, event: &DecisionEvent) -> PortResult<PutEventsRequestEntry> {
        let detail = serde_json::to_string(event)
            .map_err(|e| port_error(ErrorKind::InvalidInput, OP, format!("event not serializable: {e}")))?;
        Ok(PutEventsRequestEntry::builder()
            .source(EVENT_SOURCE)
            .detail_type(&event.detail_type)
            .detail(detail)
            .time(DateTime::from_millis(event.at.epoch_ms()))
            .event_bus_name(&self.bus)
            .build())
    }

    /// Sends one batch (≤ 10), resending failed entries with transient codes.
    async fn send_batch(&self, events: &[DecisionEvent]) -> PortResult<()> {
        let mut pending: Vec<(usize, PutEventsRequestEntry)> =
            events.iter().enumerate().map(|(i, e)| Ok((i, self.entry(e)?))).collect::<PortResult<_>>()?;
        let mut attempt = 1;
        loop {
            let out = self
                .client
                .put_events()
                .set_entries(Some(pending.iter().map(|(_, e)| e.clone()).collect()))
                .send()
                .await
                .classify(OP)?;
            if out.failed_entry_count() == 0 {
                return Ok(());
            }
            let results = out.entries();
            // Entries come back in request order; an entry with an error code failed.
            let failed: Vec<(usize, PutEventsRequestEntry, String, String)> = pending
                .into_iter()
                .zip(results.iter().map(Some).chain(std::iter::repeat(None)))
                .filter_map(|((i, entry), r)| {
                    let code = r.and_then(|r| r.error_code());
                    match (r, code) {
                        (Some(_), None) => None,
                        (_, code) => Some((
                            i,
                            entry,
                            code.unwrap_or("NoResult").to_owned(),
                            r.and_then(|r| r.error_message()).unwrap_or_default().to_owned(),
                        )),
                    }
                })
                .collect();
            let transient = failed.iter().all(|(_, _, code, _)| kind_of_code(Some(code), None) == ErrorKind::Retryable);
            if !transient || attempt >= self.backoff.max_attempts {
                return Err(partial_failure(events, &failed, transient));
            }
            tokio::time::sleep(self.backoff.delay(attempt)).await;
            attempt += 1;
            pending = failed.into_iter().map(|(i, e, _, _)| (i, e)).collect();
        }
    }
}

fn partial_failure(
    events: &[DecisionEvent],
    failed: &[(usize, PutEventsRequestEntry, String, String)],
    transient: bool,
) -> autopilot_core::ports::PortError {
    let list: Vec<String> = failed
        .iter()
        .map(|(i, _, code, msg)| {
            let e = &events[*i];
            format!("{} {:?} of {}: {code} {msg}", e.at, e.detail_type, e.function)
        })
        .collect();
    let kind = if transient { ErrorKind::Retryable } else { ErrorKind::Fatal };
    port_error(
        kind,
        OP,
        format!("{} of a batch of {} events not published: {}", failed.len(), events.len(), list.join("; ")),
    )
}

impl EventSink for EventBridgeSink {
    async fn publish(&self, events: &[DecisionEvent]) -> PortResult<()> {
        for batch in events.chunks(MAX_ENTRIES_PER_CALL) {
            self.send_batch(batch).await?;
        }
        Ok(())
    }
}
