//! [`RunStore`] over the control table: window summaries ([`super::summaries`]) and
//! forecasts, one item each:
//!
//! | item | `pk` | `sk` | other attributes |
//! |---|---|---|---|
//! | forecast | `FN#<resourceId>` | `FORECAST#<origin>` (10-digit minute) | `body` B (gzip of the [`StoredForecast`] JSON), `expiresAt` N (TTL: [`FORECAST_TTL_MINUTES`] after the origin) |
//! | act record | `FN#<resourceId>` (unqualified) | `ACT#<minute>` (10-digit) | `record` S (the [`ActRecord`] as JSON, about 200 bytes: one write unit), `expiresAt` N (TTL: [`ACT_TTL_DAYS`] after the run) |
//! | kept model | `FN#<resourceId>` (unqualified) | `MODEL` | `body` B (gzip of the [`KeptModel`] JSON: profiles, error quantiles, level), `expiresAt` N (TTL: [`KEPT_TTL_DAYS`] after the fit) |
//! | bin history | `FN#<resourceId>` (unqualified) | `HISTORY` | `body` B (gzip of the [`BinHistory`] JSON: up to 28 days of 5-minute bins), `expiresAt` N (TTL: [`KEPT_TTL_DAYS`] after the fit) |
//! | tuner look-back | `FN#<resourceId>` (unqualified) | `SIZES` | `body` B (gzip of the [`SizeHistory`] JSON: each memory run's window of counters per size, up to 14 days), `expiresAt` N (TTL: [`KEPT_TTL_DAYS`] after its last window) |
//!
//! The kept model is read (eventually consistent) by every forecast; both are written at each
//! refit, every 12 hours per function ([`autopilot_core::forecast::kept`]). The tuner's
//! look-back is read and written by each memory run, daily by default
//! ([`autopilot_core::tuner::lookback`]).
//!
//! Summaries expire [`SUMMARY_TTL_DAYS`] after their window ends.

use autopilot_core::domain::{FunctionRef, Minute};
use autopilot_core::forecast::kept::{BinHistory, KeptModel};
use autopilot_core::observe::WindowSummary;
use autopilot_core::ports::{ActRecord, ErrorKind, PortResult, RunStore, StoredForecast};
use autopilot_core::tuner::lookback::SizeHistory;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use super::control::{BODY, ControlTable, RECORD, SortKeys, TTL_ATTRIBUTE, function_key};
use super::summaries::{gunzip_json, gzip_json};
use crate::error::{ClassifyExt, port_error};

pub const FORECAST_PREFIX: &str = "FORECAST#";
/// A forecast is read by the step right after it; kept a day for inspection.
pub const FORECAST_TTL_MINUTES: i64 = Minute::PER_DAY;
/// Window summaries are kept this long after their window.
pub const SUMMARY_TTL_DAYS: i64 = 35;

pub const ACT_PREFIX: &str = "ACT#";
/// Act records outlive the longest window a run may read (28 days).
pub const ACT_TTL_DAYS: i64 = 29;

pub const MODEL_KEY: &str = "MODEL";
pub const HISTORY_KEY: &str = "HISTORY";
/// Sort key of the memory tuner's look-back.
pub const SIZES_KEY: &str = "SIZES";
/// The kept model and history outlive the 28 days of history a refit reads: a function no
/// longer run is forgotten after this.
pub const KEPT_TTL_DAYS: i64 = 35;

/// TTL (Unix seconds) of a kept model or history written at `at`.
fn kept_expiry(at: Minute) -> i64 {
    at.plus(KEPT_TTL_DAYS * Minute::PER_DAY).epoch_ms() / 1000
}

pub fn act_key(minute: Minute) -> String {
    format!("{ACT_PREFIX}{:010}", minute.0)
}

pub fn forecast_key(origin: Minute) -> String {
    format!("{FORECAST_PREFIX}{:010}", origin.0)
}

impl ControlTable {
    /// Writes `value` as the gzip JSON body of the function's item `sk`, expiring at
    /// `expires_at` (Unix seconds; the table's TTL).
    async fn put_body<T: serde::Serialize>(
        &self,
        function: &FunctionRef,
        sk: String,
        value: &T,
        expires_at: i64,
    ) -> PortResult<()> {
        const OP: &str = "DynamoDB.PutItem";
        let body = gzip_json(value).map_err(|e| port_error(ErrorKind::InvalidInput, OP, e))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::key(function_key(function), sk)))
            .item(BODY, AttributeValue::B(Blob::new(body)))
            .item(TTL_ATTRIBUTE, AttributeValue::N(expires_at.to_string()))
            .send()
            .await
            .classify(OP)?;
        Ok(())
    }

    /// A kept item (eventually consistent) whose loss would lose observations: one that does
    /// not decode is an error naming the item and what to do, never silently a fresh start.
    async fn get_kept<T: serde::de::DeserializeOwned>(
        &self,
        function: &FunctionRef,
        sk: &str,
        what: &str,
    ) -> PortResult<Option<T>> {
        self.get_body(function, sk.to_owned(), false).await?.transpose().map_err(|e| {
            port_error(
                ErrorKind::Fatal,
                "DynamoDB.GetItem",
                format!(
                    "{what} of {function} (item {} / {sk}) does not decode: {e}; delete the item to start afresh",
                    function_key(function)
                ),
            )
        })
    }

    /// The gzip JSON body of the function's item `sk` (`consistent` or not): `None` when
    /// there is no such item, `Some(Err)` with the reason when its body does not decode.
    async fn get_body<T: serde::de::DeserializeOwned>(
        &self,
        function: &FunctionRef,
        sk: String,
        consistent: bool,
    ) -> PortResult<Option<Result<T, String>>> {
        const OP: &str = "DynamoDB.GetItem";
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(function_key(function), sk)))
            .consistent_read(consistent)
            .send()
            .await
            .classify(OP)?;
        let Some(item) = out.item() else { return Ok(None) };
        Ok(Some(match item.get(BODY) {
            Some(AttributeValue::B(b)) => gunzip_json(b.as_ref()),
            _ => Err("no binary body".to_owned()),
        }))
    }
}

impl RunStore for ControlTable {
    async fn put_summary(&self, summary: &WindowSummary) -> PortResult<()> {
        let expires = summary.to.plus(SUMMARY_TTL_DAYS * Minute::PER_DAY).epoch_ms() / 1000;
        ControlTable::put_summary(self, summary, Some(expires)).await.map(|_| ())
    }

    async fn get_summary(&self, function: &FunctionRef, from: Minute, to: Minute) -> PortResult<Option<WindowSummary>> {
        ControlTable::get_summary(self, function, from, to).await
    }

    async fn put_forecast(&self, forecast: &StoredForecast) -> PortResult<()> {
        let origin = forecast.forecast.origin;
        let expires = origin.plus(FORECAST_TTL_MINUTES).epoch_ms() / 1000;
        self.put_body(&forecast.function, forecast_key(origin), forecast, expires).await
    }

    /// Consistent: apply-concurrency reads the forecast the step before it has just written.
    async fn get_forecast(&self, function: &FunctionRef, origin: Minute) -> PortResult<Option<StoredForecast>> {
        match self.get_body(function, forecast_key(origin), true).await? {
            None => Ok(None),
            Some(Ok(forecast)) => Ok(Some(forecast)),
            Some(Err(e)) => Err(port_error(
                ErrorKind::Fatal,
                "DynamoDB.GetItem",
                format!("forecast of {function} does not decode: {e}"),
            )),
        }
    }

    async fn put_act(&self, act: &ActRecord) -> PortResult<()> {
        const OP: &str = "DynamoDB.PutItem";
        let record = serde_json::to_string(act).map_err(|e| port_error(ErrorKind::InvalidInput, OP, e.to_string()))?;
        let expires = act.minute.plus(ACT_TTL_DAYS * Minute::PER_DAY).epoch_ms() / 1000;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::key(function_key(&act.function), act_key(act.minute))))
            .item(RECORD, AttributeValue::S(record))
            .item(TTL_ATTRIBUTE, AttributeValue::N(expires.to_string()))
            .send()
            .await
            .classify(OP)?;
        Ok(())
    }

    /// Eventually consistent (half the read units of a consistent read): the records a forecast
    /// reads were written by earlier runs, minutes before.
    async fn get_acts(&self, function: &FunctionRef, from: Minute, to: Minute) -> PortResult<Vec<ActRecord>> {
        const OP: &str = "DynamoDB.Query";
        if to <= from {
            return Ok(Vec::new());
        }
        let sk = SortKeys::Between(act_key(from), act_key(Minute(to.0 - 1)));
        let items = self.query_function(function, sk, (true, None), false).await?;
        let mut out = Vec::with_capacity(items.len());
        for item in &items {
            let act = match item.get(RECORD) {
                Some(AttributeValue::S(json)) => serde_json::from_str::<ActRecord>(json).map_err(|e| {
                    port_error(ErrorKind::Fatal, OP, format!("act record of {function} does not decode: {e}"))
                })?,
                _ => return Err(port_error(ErrorKind::Fatal, OP, format!("act item of {function} has no record"))),
            };
            out.push(act);
        }
        Ok(out)
    }

    async fn put_model(&self, function: &FunctionRef, model: &KeptModel) -> PortResult<()> {
        self.put_body(function, MODEL_KEY.to_owned(), model, kept_expiry(model.fitted_at)).await
    }

    /// A model that does not decode (another release's) is `None`: the next forecast refits
    /// it from the history and writes it again.
    async fn get_model(&self, function: &FunctionRef) -> PortResult<Option<KeptModel>> {
        Ok(self.get_body(function, MODEL_KEY.to_owned(), false).await?.and_then(Result::ok))
    }

    async fn put_history(&self, function: &FunctionRef, history: &BinHistory) -> PortResult<()> {
        self.put_body(function, HISTORY_KEY.to_owned(), history, kept_expiry(history.end())).await
    }

    async fn get_history(&self, function: &FunctionRef) -> PortResult<Option<BinHistory>> {
        self.get_kept(function, HISTORY_KEY, "the forecast history").await
    }

    async fn put_sizes(&self, function: &FunctionRef, sizes: &SizeHistory) -> PortResult<()> {
        let last = sizes.windows.last().map_or(Minute(0), |w| w.to);
        self.put_body(function, SIZES_KEY.to_owned(), sizes, kept_expiry(last)).await
    }

    async fn get_sizes(&self, function: &FunctionRef) -> PortResult<Option<SizeHistory>> {
        self.get_kept(function, SIZES_KEY, "the memory tuner's look-back").await
    }
}
