//! In-memory `ChangeLog`, `EventSink` and `Lease`: the simulator's, and any test's.

use std::collections::{BTreeMap, HashMap};
use std::future::{Future, ready};
use std::sync::{Mutex, MutexGuard};

use autopilot_core::ports::{
    ChangeLog, ChangeRecord, ChangeStatus, DecisionEvent, ErrorKind, EventSink, Lease, PortError, PortResult, Recorded,
};
use autopilot_core::{FunctionRef, Minute};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Change records per function, in the order written.
#[derive(Debug, Default)]
pub struct InMemoryChangeLog {
    records: Mutex<BTreeMap<String, Vec<ChangeRecord>>>,
}

impl InMemoryChangeLog {
    /// Every record, all functions.
    pub fn all(&self) -> Vec<ChangeRecord> {
        lock(&self.records).values().flatten().cloned().collect()
    }
}

impl ChangeLog for InMemoryChangeLog {
    fn record(&self, record: &ChangeRecord) -> impl Future<Output = PortResult<Recorded>> + Send {
        let mut map = lock(&self.records);
        let list = map.entry(record.function.resource_id()).or_default();
        let out = if list.iter().any(|r| r.id == record.id) {
            Recorded::AlreadyThere
        } else {
            list.push(record.clone());
            Recorded::New
        };
        ready(Ok(out))
    }

    fn set_status(
        &self,
        function: &FunctionRef,
        id: &str,
        status: ChangeStatus,
    ) -> impl Future<Output = PortResult<()>> + Send {
        let mut map = lock(&self.records);
        let found = map.get_mut(&function.resource_id()).and_then(|l| l.iter_mut().find(|r| r.id == id));
        ready(match found {
            Some(r) => {
                r.status = status;
                Ok(())
            }
            None => Err(PortError::new(ErrorKind::NotFound, "UpdateItem", format!("no change {id} for {function}"))),
        })
    }

    fn history(
        &self,
        function: &FunctionRef,
        limit: usize,
    ) -> impl Future<Output = PortResult<Vec<ChangeRecord>>> + Send {
        let map = lock(&self.records);
        let list = map.get(&function.resource_id()).map(|l| l.iter().rev().take(limit).cloned().collect());
        ready(Ok(list.unwrap_or_default()))
    }
}

/// Published events, in order.
#[derive(Debug, Default)]
pub struct InMemoryEventSink {
    events: Mutex<Vec<DecisionEvent>>,
}

impl InMemoryEventSink {
    pub fn events(&self) -> Vec<DecisionEvent> {
        lock(&self.events).clone()
    }

    pub fn len(&self) -> usize {
        lock(&self.events).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl EventSink for InMemoryEventSink {
    fn publish(&self, events: &[DecisionEvent]) -> impl Future<Output = PortResult<()>> + Send {
        lock(&self.events).extend_from_slice(events);
        ready(Ok(()))
    }
}

/// Leases per function: (owner, until).
#[derive(Debug, Default)]
pub struct InMemoryLease {
    leases: Mutex<HashMap<String, (String, Minute)>>,
}

impl Lease for InMemoryLease {
    fn acquire(
        &self,
        function: &FunctionRef,
        owner: &str,
        now: Minute,
        until: Minute,
    ) -> impl Future<Output = PortResult<bool>> + Send {
        let mut map = lock(&self.leases);
        let key = function.resource_id();
        let free = map.get(&key).is_none_or(|(holder, expiry)| holder == owner || *expiry <= now);
        if free {
            map.insert(key, (owner.to_owned(), until));
        }
        ready(Ok(free))
    }

    fn release(&self, function: &FunctionRef, owner: &str) -> impl Future<Output = PortResult<()>> + Send {
        let mut map = lock(&self.leases);
        let key = function.resource_id();
        if map.get(&key).is_some_and(|(holder, _)| holder == owner) {
            map.remove(&key);
        }
        ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use autopilot_core::MemoryMb;
    use autopilot_core::ports::{Change, FunctionState};

    use super::*;
    use crate::block_on;

    fn record(id: &str) -> ChangeRecord {
        let m = MemoryMb::new(512).unwrap();
        ChangeRecord {
            id: id.into(),
            function: FunctionRef::parse("orders").unwrap(),
            at: Minute(1),
            change: Change::Memory { from: m, to: MemoryMb::new(1024).unwrap() },
            previous: FunctionState { memory: m, alias: None, provisioned: None },
            status: ChangeStatus::Intended,
            reason: serde_json::Value::Null,
        }
    }

    #[test]
    fn change_log_is_idempotent_by_id_and_newest_first() {
        let log = InMemoryChangeLog::default();
        let f = FunctionRef::parse("orders").unwrap();
        assert_eq!(block_on(log.record(&record("a"))).unwrap(), Recorded::New);
        assert_eq!(block_on(log.record(&record("a"))).unwrap(), Recorded::AlreadyThere);
        block_on(log.record(&record("b"))).unwrap();
        block_on(log.set_status(&f, "a", ChangeStatus::Applied)).unwrap();
        let h = block_on(log.history(&f, 10)).unwrap();
        assert_eq!(h.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(h[1].status, ChangeStatus::Applied);
        assert_eq!(block_on(log.set_status(&f, "zz", ChangeStatus::Failed)).unwrap_err().kind, ErrorKind::NotFound);
    }

    #[test]
    fn leases_exclude_other_owners_until_expiry() {
        let lease = InMemoryLease::default();
        let f = FunctionRef::parse("orders").unwrap();
        assert!(block_on(lease.acquire(&f, "run-1", Minute(0), Minute(10))).unwrap());
        assert!(!block_on(lease.acquire(&f, "run-2", Minute(5), Minute(15))).unwrap());
        assert!(block_on(lease.acquire(&f, "run-2", Minute(10), Minute(20))).unwrap());
        block_on(lease.release(&f, "run-2")).unwrap();
        assert!(block_on(lease.acquire(&f, "run-3", Minute(11), Minute(12))).unwrap());
    }
}
