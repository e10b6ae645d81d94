//! What the five Lambdas share, so each `main.rs` is wiring only and each `lib.rs` is its
//! contract plus one call into [`autopilot_runner`]:
//!
//! - [`HandlerError`]: every failure as a stable Step Functions error name
//!   (`Autopilot.Retryable`, `Autopilot.Conflict`, `Autopilot.InvalidInput`,
//!   `Autopilot.GuardrailTripped`, `Autopilot.Fatal`) through [`lambda_runtime::Diagnostic`];
//! - [`parse_event`]: the payload read strictly, a bad one failing as `Autopilot.InvalidInput`
//!   (the runtime's own deserialization error would surface as a Rust type name);
//! - [`config`]: the `AUTOPILOT_*` environment, read by a pure `from_lookup`;
//! - [`init_tracing`]: JSON logs at the configured level.

pub mod config;

use std::fmt;

use autopilot_runner::RunError;
use autopilot_runner::act::ActingPorts;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::de::DeserializeOwned;

pub use config::{ConfigError, LogLevel};

/// A handler's error: a [`RunError`] that the runtime reports with its Step Functions name
/// as `errorType`.
#[derive(Debug)]
pub struct HandlerError(pub RunError);

impl HandlerError {
    pub fn error_name(&self) -> &'static str {
        self.0.error_name()
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for HandlerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl From<RunError> for HandlerError {
    fn from(e: RunError) -> Self {
        Self(e)
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        Diagnostic { error_type: e.error_name().to_owned(), error_message: e.to_string() }
    }
}

/// Reads a raw payload as the handler's input; unknown fields and bad values fail as
/// `Autopilot.InvalidInput` with serde's message (which names the field).
/// The ports of tune-memory and apply-concurrency, owned: built once in `main`, lent to each
/// invocation as the runner's [`ActingPorts`].
#[derive(Debug)]
pub struct ActingDeps<F, C, E, L, R> {
    /// The Lambda control plane.
    pub control: F,
    /// The change log.
    pub changes: C,
    /// Decision events.
    pub events: E,
    /// Per-function leases.
    pub lease: L,
    /// The run store (window summaries, forecasts).
    pub store: R,
}

impl<F, C, E, L, R> ActingDeps<F, C, E, L, R> {
    pub fn ports(&self) -> ActingPorts<'_, F, C, E, L, R> {
        ActingPorts {
            control: &self.control,
            changes: &self.changes,
            events: &self.events,
            lease: &self.lease,
            store: &self.store,
        }
    }
}

pub fn parse_event<I: DeserializeOwned>(event: LambdaEvent<serde_json::Value>) -> Result<LambdaEvent<I>, HandlerError> {
    let (payload, context) = event.into_parts();
    let input = serde_json::from_value(payload).map_err(|e| HandlerError(RunError::InvalidInput(e.to_string())))?;
    Ok(LambdaEvent::new(input, context))
}

/// JSON logs (one object per line, as CloudWatch Logs reads them) at `level`.
pub fn init_tracing(level: LogLevel) {
    use lambda_runtime::tracing::subscriber;
    subscriber::fmt()
        .json()
        .with_max_level(level.filter())
        .with_target(false)
        .with_current_span(false)
        .without_time()
        .init();
}

#[cfg(test)]
mod tests {
    use autopilot_core::ports::{ErrorKind, PortError};
    use lambda_runtime::Context;

    use super::*;

    #[test]
    fn errors_surface_as_their_step_functions_names() {
        let d: Diagnostic = HandlerError(RunError::InvalidInput("bad".into())).into();
        assert_eq!(d.error_type, "Autopilot.InvalidInput");
        assert_eq!(d.error_message, "invalid input: bad");
        let e = PortError::new(ErrorKind::Conflict, "Lambda.UpdateFunctionConfiguration", "in progress");
        let d: Diagnostic = HandlerError(RunError::from(e)).into();
        assert_eq!(d.error_type, "Autopilot.Conflict");
    }

    #[test]
    fn a_bad_payload_is_invalid_input_naming_the_field() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct In {
            a: u32,
        }
        let ok: LambdaEvent<In> =
            parse_event(LambdaEvent::new(serde_json::json!({"a": 1}), Context::default())).unwrap();
        assert_eq!(ok.payload.a, 1);
        let err =
            parse_event::<In>(LambdaEvent::new(serde_json::json!({"a": 1, "b": 2}), Context::default())).unwrap_err();
        assert_eq!(err.error_name(), "Autopilot.InvalidInput");
        assert!(err.to_string().contains("`b`"), "{err}");
    }
}
