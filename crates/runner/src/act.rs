//! The acting discipline every step follows: lease → record → apply → mark → publish →
//! release.
//!
//! - **Lease**: one owner (the execution) acts on a function at a time, for at most
//!   [`LEASE_MINUTES`] of execution time; a function whose lease another execution holds is
//!   skipped, not failed.
//! - **Record before applying**: the change id is [`change_id`] (execution, function, kind),
//!   so a retried step writes the same id; the conditional write finds the earlier record
//!   and the step applies *that* record's target, whatever it would decide now — a retry
//!   never makes a second, different change.
//! - **Mark** applied or failed; the change log says exactly what happened.

use std::future::Future;

use autopilot_core::ports::{ChangeLog, ChangeRecord, ChangeStatus, ErrorKind, Lease, PortError, PortResult, Recorded};
use autopilot_core::{FunctionRef, Minute};

/// The ports of a step that decides and acts: the Lambda control plane, the change log,
/// decision events, leases, and the run store (summaries for tune-memory, forecasts for
/// apply-concurrency). [`crate::MemoryPorts`] and [`crate::ConcurrencyPorts`] name it.
#[derive(Debug, Clone, Copy)]
pub struct ActingPorts<'a, F, C, E, L, R> {
    pub control: &'a F,
    pub changes: &'a C,
    pub events: &'a E,
    pub lease: &'a L,
    pub store: &'a R,
}

/// How long (execution minutes) a step holds a function's lease at most.
pub const LEASE_MINUTES: i64 = 15;
/// How far back in a function's change log a step looks for its own record.
pub const OWN_RECORD_LOOKBACK: usize = 20;

/// The change kinds of [`change_id`].
pub mod kind {
    pub const MEMORY: &str = "memory";
    pub const PROVISIONED: &str = "provisioned";
    pub const ROLLBACK: &str = "rollback";
}

/// `<executionId>#<function>#<kind>`: the same for every attempt of one step.
pub fn change_id(execution_id: &str, function: &FunctionRef, kind: &str) -> String {
    format!("{execution_id}#{function}#{kind}")
}

/// True when the record was written by this execution.
pub fn is_own(record: &ChangeRecord, execution_id: &str) -> bool {
    record.id.split('#').next() == Some(execution_id)
}

/// Writes `record` unless a record with its id exists; returns the record that rules: this
/// one, or the one an earlier attempt of the step wrote (with its status).
pub async fn record_intent<C: ChangeLog>(changes: &C, record: ChangeRecord) -> PortResult<(ChangeRecord, Recorded)> {
    match changes.record(&record).await? {
        Recorded::New => Ok((record, Recorded::New)),
        Recorded::AlreadyThere => {
            let history = changes.history(&record.function, OWN_RECORD_LOOKBACK).await?;
            let earlier = history.into_iter().find(|r| r.id == record.id).ok_or_else(|| {
                PortError::new(
                    ErrorKind::Conflict,
                    "ChangeLog.history",
                    format!("change {} is recorded but not among the {OWN_RECORD_LOOKBACK} newest", record.id),
                )
            })?;
            Ok((earlier, Recorded::AlreadyThere))
        }
    }
}

/// Applies a recorded change with `apply` and marks it `Applied` or `Failed`; the apply
/// error, if any, is returned after marking.
pub async fn apply_recorded<C, Fut>(changes: &C, record: &ChangeRecord, apply: Fut) -> PortResult<()>
where
    C: ChangeLog,
    Fut: Future<Output = PortResult<()>>,
{
    match apply.await {
        Ok(()) => changes.set_status(&record.function, &record.id, ChangeStatus::Applied).await,
        Err(e) => {
            // The failure is what matters; a failed mark leaves the record `Intended`,
            // which rollback treats like `Failed` (possibly half-applied).
            let _ = changes.set_status(&record.function, &record.id, ChangeStatus::Failed).await;
            Err(e)
        }
    }
}

/// Takes the function's lease for the execution; `false` when another owner holds it.
pub async fn acquire<L: Lease>(lease: &L, function: &FunctionRef, owner: &str, now: Minute) -> PortResult<bool> {
    lease.acquire(function, owner, now, now.plus(LEASE_MINUTES)).await
}

/// Releases the lease after `work`, whatever its result; the work's error wins.
pub async fn release_after<L: Lease, T>(
    lease: &L,
    function: &FunctionRef,
    owner: &str,
    work: PortResult<T>,
) -> PortResult<T> {
    let released = lease.release(function, owner).await;
    let value = work?;
    released?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use autopilot_core::MemoryMb;
    use autopilot_core::ports::{Change, FunctionState};

    use autopilot_sim::block_on;
    use autopilot_sim::fakes::InMemoryChangeLog;

    use super::*;

    #[test]
    fn a_retry_finds_the_record_of_the_first_attempt() {
        let f = FunctionRef::parse("orders").unwrap();
        let id = change_id("exec-1", &f, kind::MEMORY);
        assert_eq!(id, "exec-1#orders#memory");
        let m = |v| MemoryMb::new(v).unwrap();
        let record = |to| ChangeRecord {
            id: id.clone(),
            function: f.clone(),
            at: Minute(10),
            change: Change::Memory { from: m(512), to: m(to) },
            previous: FunctionState { memory: m(512), alias: None, provisioned: None },
            status: ChangeStatus::Intended,
            reason: serde_json::Value::Null,
        };
        let log = InMemoryChangeLog::default();
        let (first, how) = block_on(record_intent(&log, record(1024))).unwrap();
        assert_eq!((how, &first.change), (Recorded::New, &Change::Memory { from: m(512), to: m(1024) }));
        // The retry decides 768 this time; the record of the first attempt rules.
        let (again, how) = block_on(record_intent(&log, record(768))).unwrap();
        assert_eq!((how, &again.change), (Recorded::AlreadyThere, &first.change));
        assert!(is_own(&again, "exec-1") && !is_own(&again, "exec-10"));
    }
}
