//! Bounded retry of conflicts (`ResourceConflictException`: another update of the function is
//! in progress), with exponential backoff and full jitter. Throttling, 5xx and timeouts are
//! retried one layer down by the SDK's standard retry (see [`crate::ClientOptions`]); an
//! error of those kinds that gets here has already used its SDK attempts and is returned.

use std::future::Future;
use std::time::Duration;

use autopilot_core::ports::{ErrorKind, PortResult};

/// How often and how patiently to retry a conflicting Lambda update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts, the first included. Must be at least 1.
    pub max_attempts: u32,
    /// Cap of the first wait; each later cap doubles, up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// Lambda configuration updates take seconds: up to 6 attempts over at most ~31 s.
    pub const DEFAULT: Self =
        Self { max_attempts: 6, base_delay: Duration::from_millis(1_000), max_delay: Duration::from_secs(16) };

    /// The wait before attempt `attempt + 1` (after `attempt` failures, 1-based): uniform in
    /// `[0, min(max_delay, base · 2^(attempt−1))]` ("full jitter").
    pub fn delay(&self, attempt: u32) -> Duration {
        let cap = self.base_delay.saturating_mul(1u32 << attempt.saturating_sub(1).min(16)).min(self.max_delay);
        cap.mul_f64(fastrand::f64())
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Runs `op` until it succeeds, fails with another kind than [`ErrorKind::Conflict`], or has
/// used `policy.max_attempts` attempts (then the last conflict is returned).
pub async fn retry_conflicts<T, F, Fut>(policy: &RetryPolicy, mut op: F) -> PortResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = PortResult<T>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Err(e) if e.kind == ErrorKind::Conflict && attempt < policy.max_attempts.max(1) => {
                tokio::time::sleep(policy.delay(attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use autopilot_core::ports::PortError;

    use super::*;

    const FAST: RetryPolicy =
        RetryPolicy { max_attempts: 4, base_delay: Duration::from_millis(1), max_delay: Duration::from_millis(2) };

    #[test]
    fn delays_are_capped_and_jittered() {
        let p = RetryPolicy::DEFAULT;
        for attempt in 1..40 {
            let d = p.delay(attempt);
            let cap = Duration::from_millis(1_000 * (1u64 << (attempt - 1).min(16))).min(p.max_delay);
            assert!(d <= cap, "attempt {attempt}: {d:?} > {cap:?}");
        }
        let distinct: std::collections::BTreeSet<_> = (0..20).map(|_| p.delay(5)).collect();
        assert!(distinct.len() > 1, "jitter varies the wait");
    }

    #[tokio::test]
    async fn conflicts_are_retried_up_to_the_bound_and_nothing_else_is() {
        let calls = AtomicU32::new(0);
        let r: PortResult<()> = retry_conflicts(&FAST, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(PortError::new(ErrorKind::Conflict, "Op", "busy"))
        })
        .await;
        assert_eq!(r.unwrap_err().kind, ErrorKind::Conflict);
        assert_eq!(calls.load(Ordering::SeqCst), 4);

        calls.store(0, Ordering::SeqCst);
        let r: PortResult<()> = retry_conflicts(&FAST, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(PortError::new(ErrorKind::AccessDenied, "Op", "no"))
        })
        .await;
        assert_eq!(r.unwrap_err().kind, ErrorKind::AccessDenied);
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        calls.store(0, Ordering::SeqCst);
        let r = retry_conflicts(&FAST, || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(PortError::new(ErrorKind::Conflict, "Op", "busy"))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
