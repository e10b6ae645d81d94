//! rollback: restore the configuration a change record says was there before the change —
//! memory and alias routing for memory changes (records under the function's name), the PC
//! level for PC changes (records under `name:alias`). "Already there" is success.
//!
//! The last known good configuration is the `previous` of the newest change record that is
//! not itself a rollback: after a rollback of that change it is what the function already
//! has, so rolling back twice changes nothing.

use autopilot_core::FunctionRef;
use autopilot_core::ports::{
    Change, ChangeLog, ChangeRecord, ChangeStatus, ErrorKind, EventSink, FunctionControl, FunctionState, Lease,
    PortError, PortResult, detail_type,
};
use serde_json::json;

use crate::act::{acquire, apply_recorded, change_id, kind, record_intent, release_after};
use crate::concurrency::set_level;
use crate::contract::{Outcome, RollbackInput, RollbackOutput, RollbackTarget};
use crate::events::event;
use crate::{RunError, execution_id_ok};

/// Change records searched for the target.
pub const HISTORY_LIMIT: usize = 50;

/// The ports rollback reads and acts through.
#[derive(Debug, Clone, Copy)]
pub struct RollbackPorts<'a, F, C, E, L> {
    pub control: &'a F,
    pub changes: &'a C,
    pub events: &'a E,
    pub lease: &'a L,
}

pub async fn rollback<F, C, E, L>(
    p: &RollbackPorts<'_, F, C, E, L>,
    input: &RollbackInput,
) -> Result<RollbackOutput, RunError>
where
    F: FunctionControl,
    C: ChangeLog,
    E: EventSink,
    L: Lease,
{
    execution_id_ok(&input.execution_id)?;
    let function = &input.function;
    let history = p.changes.history(function, HISTORY_LIMIT).await?;
    let record = match &input.target {
        RollbackTarget::LastKnownGood => history.iter().find(|r| !matches!(r.change, Change::Rollback { .. })),
        RollbackTarget::Change { id } => history.iter().find(|r| &r.id == id),
    }
    .cloned()
    .ok_or_else(|| {
        RunError::InvalidInput(format!(
            "{function}: no change to roll back ({:?} among the {HISTORY_LIMIT} newest)",
            input.target
        ))
    })?;
    if let Change::Rollback { of_change } = &record.change {
        return Err(RunError::InvalidInput(format!(
            "{} is a rollback of {of_change}: roll back {of_change} instead",
            record.id
        )));
    }
    let (now, owner) = (input.now.0, input.execution_id.as_str());
    if !acquire(p.lease, function, owner, now).await? {
        return Err(PortError::new(
            ErrorKind::Conflict,
            "rollback",
            format!("{function}: another execution holds the lease"),
        )
        .into());
    }
    let work = restore_recorded(p, input, &record).await;
    let outcome = release_after(p.lease, function, owner, work).await?;
    Ok(RollbackOutput { function: function.clone(), change_id: record.id.clone(), outcome, restored: record.previous })
}

async fn restore_recorded<F, C, E, L>(
    p: &RollbackPorts<'_, F, C, E, L>,
    input: &RollbackInput,
    target: &ChangeRecord,
) -> PortResult<Outcome>
where
    F: FunctionControl,
    C: ChangeLog,
    E: EventSink,
{
    let function = &input.function;
    let outcome = if state_matches(p.control, function, &target.change, &target.previous).await? {
        Outcome::AlreadyThere
    } else {
        let id = change_id(&input.execution_id, function, kind::ROLLBACK);
        let record = ChangeRecord {
            id: id.clone(),
            function: function.clone(),
            at: input.now.0,
            change: Change::Rollback { of_change: target.id.clone() },
            previous: state_now(p.control, function, &target.change).await?,
            status: ChangeStatus::Intended,
            reason: json!({"reason": input.reason, "target": input.target}),
        };
        let (record, _) = record_intent(p.changes, record).await?;
        apply_recorded(p.changes, &record, restore(p.control, function, &target.change, &target.previous)).await?;
        let detail =
            json!({"changeId": id, "ofChange": target.id, "restored": target.previous, "reason": input.reason});
        let mode = autopilot_core::policy::Mode::Autopilot;
        p.events.publish(&[event(detail_type::ROLLED_BACK, function, mode, input.now.0, detail)]).await?;
        Outcome::Applied
    };
    if target.status != ChangeStatus::RolledBack {
        p.changes.set_status(function, &target.id, ChangeStatus::RolledBack).await?;
    }
    Ok(outcome)
}

fn unqualified(function: &FunctionRef) -> PortResult<FunctionRef> {
    function.with_qualifier(None).map_err(|e| PortError::new(ErrorKind::InvalidInput, "rollback", e.to_string()))
}

fn alias_ref(function: &FunctionRef, alias: &str) -> PortResult<FunctionRef> {
    function.with_qualifier(Some(alias)).map_err(|e| PortError::new(ErrorKind::InvalidInput, "rollback", e.to_string()))
}

/// True when memory (and the alias routing, if recorded) are as in `previous`.
pub async fn memory_state_matches<F: FunctionControl>(
    control: &F,
    function: &FunctionRef,
    previous: &FunctionState,
) -> PortResult<bool> {
    let config = control.get_function(&unqualified(function)?).await?;
    let alias_ok = match &previous.alias {
        Some(a) => config.aliases.iter().any(|c| c.name == a.name && c.routing == a.routing),
        None => true,
    };
    Ok(alias_ok && config.memory == previous.memory)
}

/// True when what `change` changed is as in `previous`.
pub async fn state_matches<F: FunctionControl>(
    control: &F,
    function: &FunctionRef,
    change: &Change,
    previous: &FunctionState,
) -> PortResult<bool> {
    match change {
        Change::Memory { .. } | Change::AliasRouting { .. } => memory_state_matches(control, function, previous).await,
        Change::Provisioned { from, .. } => {
            let now = control.get_provisioned(function).await?.map_or(0, |pc| pc.requested.get());
            Ok(now == *from)
        }
        Change::Rollback { .. } => Ok(false),
    }
}

/// The state of what `change` changed, as it is now (the `previous` of a rollback record).
async fn state_now<F: FunctionControl>(
    control: &F,
    function: &FunctionRef,
    change: &Change,
) -> PortResult<FunctionState> {
    let config = control.get_function(&unqualified(function)?).await?;
    let alias = match change {
        Change::Memory { .. } | Change::AliasRouting { .. } => config.aliases.first().cloned(),
        _ => None,
    };
    let provisioned = match change {
        Change::Provisioned { .. } => control.get_provisioned(function).await?.map(|pc| pc.requested),
        _ => None,
    };
    Ok(FunctionState { memory: config.memory, alias, provisioned })
}

/// Puts back what `change` changed, as recorded in `previous`.
pub async fn restore<F: FunctionControl>(
    control: &F,
    function: &FunctionRef,
    change: &Change,
    previous: &FunctionState,
) -> PortResult<()> {
    match change {
        Change::Memory { .. } | Change::AliasRouting { .. } => {
            control.set_memory(&unqualified(function)?, previous.memory).await?;
            if let Some(a) = &previous.alias {
                control.set_alias(&alias_ref(function, &a.name)?, &a.routing).await?;
            }
            Ok(())
        }
        Change::Provisioned { from, .. } => set_level(control, function, *from).await,
        Change::Rollback { of_change } => Err(PortError::new(
            ErrorKind::InvalidInput,
            "rollback",
            format!("a rollback (of {of_change}) is not rolled back; roll back the change itself"),
        )),
    }
}
