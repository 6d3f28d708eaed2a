//! Shared AWS client setup: the standard credential and region chain, an
//! optional endpoint for compatible servers, the SDK's standard retry mode
//! (exponential backoff with jitter on 5xx, throttling, timeouts and
//! connection errors) and an interceptor that counts retries and throttles.

use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::metrics::Metrics;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Attempts per request, the first included.
pub(super) const MAX_ATTEMPTS: u32 = 10;

/// The SDK configuration: standard chains, retries and timeouts, and the
/// endpoint of a compatible server when one is given (`AWS_ENDPOINT_URL` is
/// read by the SDK itself).
pub(super) async fn load(endpoint_url: Option<&str>) -> aws_config::SdkConfig {
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(50))
                .with_max_backoff(Duration::from_secs(5)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(120))
                .build(),
        );
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// Counts retried attempts and throttling answers into the run's metrics.
#[derive(Debug)]
pub(super) struct CountRetries(pub(super) Arc<Metrics>);

impl Intercept for CountRetries {
    fn name(&self) -> &'static str {
        "CountRetries"
    }

    fn read_before_attempt(
        &self,
        _ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg
            .load::<RequestAttempts>()
            .is_some_and(|a| a.attempts() > 1)
        {
            self.0.retry();
        }
        Ok(())
    }

    fn read_after_transmit(
        &self,
        ctx: &BeforeDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = ctx.response();
        let status = response.status().as_u16();
        let error_type = response.headers().get("x-amzn-ErrorType").unwrap_or("");
        if status == 503
            || status == 429
            || error_type.contains("Throttl")
            || error_type.contains("ProvisionedThroughputExceeded")
        {
            self.0.throttle();
        }
        Ok(())
    }
}

/// One line from an SDK error, with its causes.
fn describe<E: std::error::Error>(e: &E) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let line = c.to_string();
        if !text.contains(&line) {
            text += ": ";
            text += &line;
        }
        cause = c.source();
    }
    let text = text.replace(['\n', '\r'], " ");
    if text.contains("credential") {
        format!(
            "no usable AWS credentials (environment, profile, SSO, web identity, container or instance role): {text}"
        )
    } else {
        text
    }
}

/// The service's error code and message, or the whole error chain when the
/// request never got an answer.
pub(super) fn sdk_message<E, R>(e: &SdkError<E, R>) -> String
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    if let SdkError::ServiceError(se) = e {
        let err = se.err();
        if let Some(code) = err.code() {
            return match err.message() {
                Some(m) => format!("{code}: {m}"),
                None => code.to_string(),
            };
        }
    }
    describe(e)
}
