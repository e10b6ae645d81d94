//! Lambda error paths the emulator cannot produce (aws-smithy-mocks): conflicts while an
//! update is in progress, throttling, access denied, failed updates, races on aliases and
//! partly failing keep-warm calls. Each is classified, retried within its bound, and leaves
//! no half-applied change (no write after a failed step, no wait on a change never made).

mod mocking;

use autopilot_aws::LambdaControl;
use autopilot_core::domain::{Concurrency, FunctionRef, MemoryMb};
use autopilot_core::ports::{AliasRouting, ErrorKind, FunctionControl};
use aws_sdk_lambda::Client;
use aws_sdk_lambda::operation::create_alias::CreateAliasOutput;
use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput;
use aws_sdk_lambda::operation::invoke::InvokeOutput;
use aws_sdk_lambda::operation::put_provisioned_concurrency_config::PutProvisionedConcurrencyConfigOutput;
use aws_sdk_lambda::operation::update_alias::UpdateAliasOutput;
use aws_sdk_lambda::operation::update_function_configuration::UpdateFunctionConfigurationOutput;
use aws_sdk_lambda::types::{LastUpdateStatus, LastUpdateStatusReasonCode};
use aws_smithy_mocks::mock;
use mocking::{CONFLICT_RETRY, OPTIONS, lambda_error};

fn f() -> FunctionRef {
    FunctionRef::parse("orders").unwrap()
}

fn config(memory: i32, status: LastUpdateStatus) -> GetFunctionConfigurationOutput {
    GetFunctionConfigurationOutput::builder()
        .function_name("orders")
        .memory_size(memory)
        .last_update_status(status)
        .build()
}

fn control(c: &autopilot_aws::Clients) -> LambdaControl {
    LambdaControl::new(c).with_retry(CONFLICT_RETRY)
}

fn updated() -> UpdateFunctionConfigurationOutput {
    UpdateFunctionConfigurationOutput::builder().memory_size(1024).build()
}

#[tokio::test]
async fn a_conflicting_update_is_retried_then_waited_for() {
    let read = mock!(Client::get_function_configuration)
        .sequence()
        .output(|| config(512, LastUpdateStatus::Successful))
        .output(|| config(1024, LastUpdateStatus::Successful))
        .build();
    let update = mock!(Client::update_function_configuration)
        .match_requests(|r| r.memory_size() == Some(1024))
        .sequence()
        .http_response(|| lambda_error(409, "ResourceConflictException"))
        .times(2)
        .output(updated)
        .build();
    let c = mocking::clients(&[&read, &update]);
    control(&c).set_memory(&f(), MemoryMb::new(1024).unwrap()).await.unwrap();
    assert_eq!(c.calls.get("Lambda.UpdateFunctionConfiguration"), 3, "409 is not retried by the SDK, only by us");
    assert_eq!(c.calls.get("Lambda.GetFunctionConfiguration"), 2, "one read, one waiter poll");
}

#[tokio::test]
async fn a_conflict_that_persists_gives_up_at_the_bound_with_nothing_applied() {
    let read = mock!(Client::get_function_configuration).then_output(|| config(512, LastUpdateStatus::Successful));
    let update = mock!(Client::update_function_configuration)
        .sequence()
        .http_response(|| lambda_error(409, "ResourceConflictException"))
        .repeatedly()
        .build();
    let c = mocking::clients(&[&read, &update]);
    let err = control(&c).set_memory(&f(), MemoryMb::new(1024).unwrap()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(err.message.contains("ResourceConflictException"), "{}", err.message);
    assert!(std::error::Error::source(&err).is_some(), "the SDK error is kept");
    assert_eq!(c.calls.get("Lambda.UpdateFunctionConfiguration"), u64::from(CONFLICT_RETRY.max_attempts));
    assert_eq!(c.calls.get("Lambda.GetFunctionConfiguration"), 1, "no wait for an update never accepted");
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_within_its_attempts_and_not_again() {
    let read = mock!(Client::get_function_configuration).then_output(|| config(512, LastUpdateStatus::Successful));
    let update = mock!(Client::update_function_configuration)
        .sequence()
        .http_response(|| lambda_error(429, "TooManyRequestsException"))
        .repeatedly()
        .build();
    let c = mocking::clients(&[&read, &update]);
    let err = control(&c).set_memory(&f(), MemoryMb::new(1024).unwrap()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Retryable);
    assert_eq!(c.calls.get("Lambda.UpdateFunctionConfiguration"), u64::from(OPTIONS.max_attempts));
    assert_eq!(c.calls.get("Lambda.GetFunctionConfiguration"), 1);

    let read = mock!(Client::get_function_configuration)
        .sequence()
        .output(|| config(512, LastUpdateStatus::Successful))
        .output(|| config(1024, LastUpdateStatus::Successful))
        .build();
    let update = mock!(Client::update_function_configuration)
        .sequence()
        .http_response(|| lambda_error(429, "TooManyRequestsException"))
        .output(updated)
        .build();
    let c = mocking::clients(&[&read, &update]);
    control(&c).set_memory(&f(), MemoryMb::new(1024).unwrap()).await.unwrap();
    assert_eq!(c.calls.get("Lambda.UpdateFunctionConfiguration"), 2);
}

#[tokio::test]
async fn access_denied_is_returned_at_once() {
    let read = mock!(Client::get_function_configuration).then_output(|| config(512, LastUpdateStatus::Successful));
    let update =
        mock!(Client::update_function_configuration).then_http_response(|| lambda_error(403, "AccessDeniedException"));
    let c = mocking::clients(&[&read, &update]);
    let err = control(&c).set_memory(&f(), MemoryMb::new(1024).unwrap()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::AccessDenied);
    assert_eq!(err.kind.error_name(), "Autopilot.Fatal");
    assert_eq!(
        (c.calls.get("Lambda.UpdateFunctionConfiguration"), c.calls.get("Lambda.GetFunctionConfiguration")),
        (1, 1)
    );
}

#[tokio::test]
async fn an_update_in_progress_is_waited_for_and_a_failed_one_is_fatal_with_its_reason() {
    // Someone else's update is running: wait for it, then find memory already at target.
    let read = mock!(Client::get_function_configuration)
        .sequence()
        .output(|| config(1024, LastUpdateStatus::InProgress))
        .output(|| config(1024, LastUpdateStatus::Successful))
        .build();
    let update = mock!(Client::update_function_configuration).then_output(updated);
    let c = mocking::clients(&[&read, &update]);
    control(&c).set_memory(&f(), MemoryMb::new(1024).unwrap()).await.unwrap();
    assert_eq!(c.calls.get("Lambda.UpdateFunctionConfiguration"), 0, "already at target once the other update ended");

    let read = mock!(Client::get_function_configuration)
        .sequence()
        .output(|| config(512, LastUpdateStatus::Successful))
        .output(|| {
            GetFunctionConfigurationOutput::builder()
                .memory_size(512)
                .last_update_status(LastUpdateStatus::Failed)
                .last_update_status_reason_code(LastUpdateStatusReasonCode::InsufficientRolePermissions)
                .last_update_status_reason("role cannot be assumed")
                .build()
        })
        .build();
    let update = mock!(Client::update_function_configuration).then_output(updated);
    let c = mocking::clients(&[&read, &update]);
    let err = control(&c).set_memory(&f(), MemoryMb::new(1024).unwrap()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fatal);
    assert!(err.message.contains("role cannot be assumed"), "{}", err.message);
}

#[tokio::test]
async fn an_alias_created_concurrently_is_updated_and_a_refused_create_stops_there() {
    let routing = AliasRouting { version: "3".into(), canary: Some(("4".into(), 0.1)) };
    let alias = FunctionRef::parse("orders:live").unwrap();
    let update = mock!(Client::update_alias)
        .match_requests(|r| {
            r.routing_config().and_then(|c| c.additional_version_weights()).and_then(|w| w.get("4")) == Some(&0.1)
        })
        .sequence()
        .http_response(|| lambda_error(404, "ResourceNotFoundException"))
        .output(|| UpdateAliasOutput::builder().name("live").build())
        .build();
    let create = mock!(Client::create_alias).then_http_response(|| lambda_error(409, "ResourceConflictException"));
    let c = mocking::clients(&[&update, &create]);
    control(&c).set_alias(&alias, &routing).await.unwrap();
    assert_eq!((c.calls.get("Lambda.UpdateAlias"), c.calls.get("Lambda.CreateAlias")), (2, 1));

    let update = mock!(Client::update_alias).then_http_response(|| lambda_error(404, "ResourceNotFoundException"));
    let create = mock!(Client::create_alias).then_http_response(|| lambda_error(403, "AccessDeniedException"));
    let c = mocking::clients(&[&update, &create]);
    let err = control(&c).set_alias(&alias, &routing).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::AccessDenied);
    assert_eq!((c.calls.get("Lambda.UpdateAlias"), c.calls.get("Lambda.CreateAlias")), (1, 1));

    let update = mock!(Client::update_alias).then_http_response(|| lambda_error(404, "ResourceNotFoundException"));
    let create = mock!(Client::create_alias).then_output(|| CreateAliasOutput::builder().name("live").build());
    let c = mocking::clients(&[&update, &create]);
    control(&c).set_alias(&alias, &routing).await.unwrap();
    assert_eq!((c.calls.get("Lambda.UpdateAlias"), c.calls.get("Lambda.CreateAlias")), (1, 1));
}

#[tokio::test]
async fn provisioned_concurrency_conflicts_are_retried() {
    let put = mock!(Client::put_provisioned_concurrency_config)
        .match_requests(|r| r.qualifier() == Some("live") && r.provisioned_concurrent_executions() == Some(5))
        .sequence()
        .http_response(|| lambda_error(409, "ResourceConflictException"))
        .output(|| {
            PutProvisionedConcurrencyConfigOutput::builder().requested_provisioned_concurrent_executions(5).build()
        })
        .build();
    let c = mocking::clients(&[&put]);
    let live = FunctionRef::parse("orders:live").unwrap();
    control(&c).put_provisioned(&live, Concurrency::new(5).unwrap()).await.unwrap();
    assert_eq!(c.calls.get("Lambda.PutProvisionedConcurrencyConfig"), 2);

    let put = mock!(Client::put_provisioned_concurrency_config)
        .then_http_response(|| lambda_error(400, "InvalidParameterValueException"));
    let c = mocking::clients(&[&put]);
    let err = control(&c).put_provisioned(&live, Concurrency::new(5).unwrap()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput);
    assert_eq!(c.calls.get("Lambda.PutProvisionedConcurrencyConfig"), 1);
}

#[tokio::test]
async fn keep_warm_counts_failures_and_never_retries_a_warm_up_call() {
    let cold_tail = aws_smithy_types::base64::encode(
        "REPORT RequestId: a\tDuration: 300.00 ms\tBilled Duration: 312 ms\tMemory Size: 128 MB\tMax Memory Used: 30 MB\tInit Duration: 11.10 ms\n",
    );
    let invoke = mock!(Client::invoke)
        .sequence()
        .output(move || InvokeOutput::builder().status_code(200).log_result(cold_tail.clone()).build())
        .output(|| InvokeOutput::builder().status_code(200).function_error("Unhandled").build())
        .http_response(|| lambda_error(429, "TooManyRequestsException"))
        .output(|| InvokeOutput::builder().status_code(200).build())
        .build();
    let c = mocking::clients(&[&invoke]);
    let outcome = control(&c).warm(&f(), 4, 50).await.unwrap();
    assert_eq!((outcome.sent, outcome.landed_cold, outcome.failed), (4, 1, 2), "{outcome:?}");
    assert_eq!(c.calls.get("Lambda.Invoke"), 4, "the throttled warm-up call was not retried");

    let invoke = mock!(Client::invoke)
        .sequence()
        .http_response(|| lambda_error(403, "AccessDeniedException"))
        .repeatedly()
        .build();
    let c = mocking::clients(&[&invoke]);
    let err = control(&c).warm(&f(), 3, 50).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::AccessDenied, "nothing landed: the cause is returned");
}
