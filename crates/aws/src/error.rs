//! The one error classifier: every SDK error of every client becomes a [`PortError`] with an
//! [`ErrorKind`], decided from the error code the service sent (`ProvideErrorMetadata::code`)
//! and, when there is no code, the raw HTTP status — never by matching operation-specific
//! error enums. The SDK error is kept as the source.
//!
//! | kind | codes (and statuses) |
//! |---|---|
//! | Retryable | throttling (`ThrottlingException`, `TooManyRequestsException`, `ProvisionedThroughputExceededException`, …), service faults (`ServiceException`, `InternalServerError`, …), `ResourceNotReadyException`; 429 and 5xx; timeouts, dispatch failures, unreadable responses |
//! | Conflict | `ResourceConflictException`, `ConditionalCheckFailedException`, `TransactionConflictException`, `TransactionCanceledException`, `PreconditionFailedException`, `ConcurrentModificationException`, `ResourceInUseException`; 409, 412 |
//! | NotFound | `ResourceNotFoundException`, `ProvisionedConcurrencyConfigNotFoundException`, …; 404 |
//! | AccessDenied | `AccessDeniedException`, `UnrecognizedClientException`, `ExpiredTokenException`, …; 401, 403 |
//! | InvalidInput | `ValidationException`, `InvalidParameterValueException`, `SerializationException`, …; other 4xx; requests that could not be built |
//! | Fatal | anything else |

use std::error::Error as StdError;

use autopilot_core::ports::{ErrorKind, PortError, PortResult};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::waiters::error::WaiterError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

const RETRYABLE: &[&str] = &[
    // Throttling, as the SDK's own retry classifier lists it, plus service-specific names.
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "RequestThrottled",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "TransactionInProgressException",
    // Transient faults.
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalFailure",
    "InternalError",
    "InternalServerError",
    "InternalServerException",
    "InternalServiceError",
    "ServiceException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ResourceNotReadyException",
];

const CONFLICT: &[&str] = &[
    "ResourceConflictException",
    "ConditionalCheckFailedException",
    "TransactionConflictException",
    "TransactionCanceledException",
    "PreconditionFailedException",
    "ConcurrentModificationException",
    "ResourceInUseException",
    "OperationAbortedException",
];

const NOT_FOUND: &[&str] = &[
    "ResourceNotFoundException",
    "ResourceNotFound",
    "ProvisionedConcurrencyConfigNotFoundException",
    "NotFoundException",
    "TableNotFoundException",
];

const ACCESS_DENIED: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "UnauthorizedOperation",
    "UnauthorizedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "MissingAuthenticationToken",
    "ExpiredToken",
    "ExpiredTokenException",
    "KMSAccessDeniedException",
];

const INVALID_INPUT: &[&str] = &[
    "ValidationException",
    "ValidationError",
    "InvalidParameterValueException",
    "InvalidParameterException",
    "InvalidParameterCombination",
    "InvalidParameterCombinationException",
    "InvalidRequestContentException",
    "InvalidRequestException",
    "MissingParameter",
    "SerializationException",
    "RequestTooLargeException",
    "UnsupportedMediaTypeException",
    "InvalidRuntimeException",
    "InvalidNextTokenException",
    "InvalidPaginationTokenException",
];

/// The kind of a service error from its code, else from its HTTP status.
pub fn kind_of_code(code: Option<&str>, status: Option<u16>) -> ErrorKind {
    if let Some(code) = code {
        // Some protocols send `prefix#Code` (awsJson `__type`); the SDK strips it, mocks may not.
        let code = code.rsplit('#').next().unwrap_or(code);
        for (codes, kind) in [
            (RETRYABLE, ErrorKind::Retryable),
            (CONFLICT, ErrorKind::Conflict),
            (NOT_FOUND, ErrorKind::NotFound),
            (ACCESS_DENIED, ErrorKind::AccessDenied),
            (INVALID_INPUT, ErrorKind::InvalidInput),
        ] {
            if codes.contains(&code) {
                return kind;
            }
        }
    }
    match status {
        Some(429) => ErrorKind::Retryable,
        Some(s) if s >= 500 => ErrorKind::Retryable,
        Some(404) => ErrorKind::NotFound,
        Some(401 | 403) => ErrorKind::AccessDenied,
        Some(409 | 412) => ErrorKind::Conflict,
        Some(s) if (400..500).contains(&s) => ErrorKind::InvalidInput,
        _ => ErrorKind::Fatal,
    }
}

/// The kind of any SDK error.
pub fn kind_of<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> ErrorKind {
    match err {
        SdkError::ServiceError(ctx) => kind_of_code(ctx.err().code(), Some(ctx.raw().status().as_u16())),
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => ErrorKind::Retryable,
        SdkError::DispatchFailure(failure) => match failure.as_connector_error() {
            Some(c) if c.is_user() => ErrorKind::InvalidInput,
            _ => ErrorKind::Retryable,
        },
        SdkError::ConstructionFailure(_) => ErrorKind::InvalidInput,
        _ => ErrorKind::Fatal,
    }
}

/// Classifies an SDK error of `operation` (e.g. `"Lambda.UpdateFunctionConfiguration"`),
/// keeping it as the source.
pub fn classify<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let kind = kind_of(&err);
    let message = describe(&err);
    PortError::new(kind, operation, message).with_source(err)
}

fn describe<E: ProvideErrorMetadata + StdError>(err: &SdkError<E, HttpResponse>) -> String {
    match err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            match (ctx.err().code(), ctx.err().message()) {
                (Some(code), Some(msg)) => format!("{code} (HTTP {status}): {msg}"),
                (Some(code), None) => format!("{code} (HTTP {status})"),
                (None, _) => format!("HTTP {status}: {}", ctx.err()),
            }
        }
        SdkError::TimeoutError(_) => "timed out".to_owned(),
        SdkError::DispatchFailure(f) => match f.as_connector_error() {
            Some(c) => format!("request not delivered: {c}"),
            None => "request not delivered".to_owned(),
        },
        SdkError::ResponseError(_) => "unreadable response".to_owned(),
        SdkError::ConstructionFailure(_) => "request could not be built".to_owned(),
        other => other.to_string(),
    }
}

/// `result.classify("Service.Operation")` on any SDK call.
pub trait ClassifyExt<T> {
    fn classify(self, operation: &'static str) -> PortResult<T>;
}

impl<T, E> ClassifyExt<T> for Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    fn classify(self, operation: &'static str) -> PortResult<T> {
        self.map_err(|e| classify(operation, e))
    }
}

/// Classifies the error of an SDK waiter: the poll's own error as any SDK error, waiting too
/// long as [`ErrorKind::Retryable`] (the change may still complete; the callers are
/// idempotent), a terminal failure state as [`ErrorKind::Fatal`].
pub fn classify_waiter<O, E>(operation: &'static str, err: WaiterError<O, E>, what: &str) -> PortError
where
    O: std::fmt::Debug,
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    match err {
        WaiterError::OperationFailed(f) => classify(operation, f.into_error()),
        WaiterError::ExceededMaxWait(w) => PortError::new(
            ErrorKind::Retryable,
            operation,
            format!("{what}: not done after {:?} ({} polls)", w.elapsed(), w.poll_count()),
        ),
        WaiterError::FailureState(f) => PortError::new(
            ErrorKind::Fatal,
            operation,
            format!("{what}: failed: {:?}", f.final_poll().as_result().ok()),
        ),
        WaiterError::ConstructionFailure(_) => {
            PortError::new(ErrorKind::InvalidInput, operation, format!("{what}: waiter could not be built"))
        }
        other => PortError::new(ErrorKind::Fatal, operation, format!("{what}: {other:?}")),
    }
}

/// An error the adapter itself detected (bad data from a service, bad arguments).
pub(crate) fn port_error(kind: ErrorKind, operation: &'static str, message: impl Into<String>) -> PortError {
    PortError::new(kind, operation, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_win_over_statuses() {
        assert_eq!(kind_of_code(Some("ResourceConflictException"), Some(409)), ErrorKind::Conflict);
        assert_eq!(kind_of_code(Some("TooManyRequestsException"), Some(429)), ErrorKind::Retryable);
        assert_eq!(kind_of_code(Some("ThrottlingException"), Some(400)), ErrorKind::Retryable);
        assert_eq!(
            kind_of_code(Some("com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"), Some(400)),
            ErrorKind::Conflict
        );
        assert_eq!(kind_of_code(Some("AccessDeniedException"), Some(400)), ErrorKind::AccessDenied);
        assert_eq!(kind_of_code(Some("ResourceNotFoundException"), Some(400)), ErrorKind::NotFound);
        assert_eq!(kind_of_code(Some("ValidationException"), Some(400)), ErrorKind::InvalidInput);
    }

    #[test]
    fn statuses_decide_without_a_known_code() {
        assert_eq!(kind_of_code(Some("SomethingNew"), Some(503)), ErrorKind::Retryable);
        assert_eq!(kind_of_code(None, Some(500)), ErrorKind::Retryable);
        assert_eq!(kind_of_code(None, Some(429)), ErrorKind::Retryable);
        assert_eq!(kind_of_code(None, Some(404)), ErrorKind::NotFound);
        assert_eq!(kind_of_code(None, Some(403)), ErrorKind::AccessDenied);
        assert_eq!(kind_of_code(None, Some(409)), ErrorKind::Conflict);
        assert_eq!(kind_of_code(None, Some(400)), ErrorKind::InvalidInput);
        assert_eq!(kind_of_code(None, Some(302)), ErrorKind::Fatal);
        assert_eq!(kind_of_code(None, None), ErrorKind::Fatal);
    }

    #[test]
    fn every_code_has_one_kind() {
        let all = [RETRYABLE, CONFLICT, NOT_FOUND, ACCESS_DENIED, INVALID_INPUT];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert!(a.iter().all(|c| !b.contains(c)), "a code is listed under two kinds");
            }
        }
    }
}
