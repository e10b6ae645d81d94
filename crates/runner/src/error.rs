//! The one error of a step, and its Step Functions error name.
//!
//! | error | name |
//! |---|---|
//! | input that does not parse or validate | `Autopilot.InvalidInput` |
//! | a port error | by its kind ([`ErrorKind::error_name`]): `Autopilot.Retryable`, `Autopilot.Conflict`, `Autopilot.InvalidInput`, `Autopilot.Fatal` |
//! | functions of a batch failed | the most telling kind among them (see [`RunError::Functions`]) |
//! | a regression whose inline rollback did not complete | `Autopilot.GuardrailTripped` |

use autopilot_core::FunctionRef;
use autopilot_core::ports::{ErrorKind, PortError, error_name};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error(transparent)]
    Port(#[from] PortError),
    /// Some functions of a batch failed; the others were handled (and a retry of the batch
    /// finds them done). `kind` is the most telling: fatal or invalid first (a retry cannot
    /// help), then conflict, then retryable.
    #[error("{} of {total} functions failed ({kind:?}): {}", failures.len(), describe(failures))]
    Functions { kind: ErrorKind, total: usize, failures: Vec<(FunctionRef, PortError)> },
    /// The guardrail judged a change regressed and the inline rollback did not complete.
    #[error("guardrail tripped on {function}, inline rollback failed: {source}")]
    GuardrailTripped {
        function: FunctionRef,
        #[source]
        source: PortError,
    },
}

fn describe(failures: &[(FunctionRef, PortError)]) -> String {
    failures.iter().map(|(f, e)| format!("{f}: {e}")).collect::<Vec<_>>().join("; ")
}

impl RunError {
    /// The stable Step Functions error name (`errorType`) of this error.
    pub fn error_name(&self) -> &'static str {
        match self {
            Self::InvalidInput(_) => error_name::INVALID_INPUT,
            Self::Port(e) => e.kind.error_name(),
            Self::Functions { kind, .. } => kind.error_name(),
            Self::GuardrailTripped { .. } => error_name::GUARDRAIL_TRIPPED,
        }
    }

    /// The batch error for these failures, `None` when there are none.
    pub fn from_failures(total: usize, failures: Vec<(FunctionRef, PortError)>) -> Option<Self> {
        let rank = |k: ErrorKind| match k {
            ErrorKind::Fatal | ErrorKind::AccessDenied | ErrorKind::InvalidInput | ErrorKind::NotFound => 0,
            ErrorKind::Conflict => 1,
            ErrorKind::Retryable => 2,
        };
        let kind = failures.iter().map(|(_, e)| e.kind).min_by_key(|k| rank(*k))?;
        Some(Self::Functions { kind, total, failures })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str) -> FunctionRef {
        FunctionRef::parse(name).unwrap()
    }

    #[test]
    fn names() {
        assert_eq!(RunError::InvalidInput("x".into()).error_name(), "Autopilot.InvalidInput");
        let e = PortError::new(ErrorKind::Retryable, "Lambda.GetFunction", "throttled");
        assert_eq!(RunError::from(e).error_name(), "Autopilot.Retryable");
        let g = RunError::GuardrailTripped {
            function: f("a"),
            source: PortError::new(ErrorKind::Conflict, "Lambda.UpdateAlias", "busy"),
        };
        assert_eq!(g.error_name(), "Autopilot.GuardrailTripped");
    }

    #[test]
    fn a_batch_fails_with_its_most_telling_kind() {
        assert!(RunError::from_failures(3, Vec::new()).is_none());
        let e = |k| PortError::new(k, "Op", "m");
        let r = RunError::from_failures(3, vec![(f("a"), e(ErrorKind::Retryable)), (f("b"), e(ErrorKind::Conflict))])
            .unwrap();
        assert_eq!(r.error_name(), "Autopilot.Conflict");
        assert!(r.to_string().contains("2 of 3") && r.to_string().contains("b: Op"), "{r}");
        let r =
            RunError::from_failures(2, vec![(f("a"), e(ErrorKind::Retryable)), (f("b"), e(ErrorKind::AccessDenied))])
                .unwrap();
        assert_eq!(r.error_name(), "Autopilot.Fatal");
    }
}
