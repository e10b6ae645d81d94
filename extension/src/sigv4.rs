//! Signature Version 4 for the DynamoDB call, with the `aws-sigv4` crate (the SDK's own
//! signer, without the SDK).

use std::time::SystemTime;

use aws_credential_types::Credentials as AwsCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

use crate::config::Credentials;

/// Signing failed (malformed URL or header): a bug or a bad setting, never transient.
#[derive(Debug, thiserror::Error)]
#[error("cannot sign the request: {0}")]
pub struct SignError(String);

/// What is signed: the request line, the headers to sign (at least `host`) and the body.
#[derive(Debug, Clone, Copy)]
pub struct Signable<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// The headers to add to a request (`authorization`, `x-amz-date`, `x-amz-security-token`).
pub fn sign_headers(
    credentials: &Credentials,
    region: &str,
    service: &str,
    request: Signable<'_>,
    time: SystemTime,
) -> Result<Vec<(String, String)>, SignError> {
    let Signable { method, url, headers, body } = request;
    let identity = AwsCredentials::new(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        credentials.session_token.clone(),
        None,
        "environment",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| SignError(e.to_string()))?
        .into();
    let request = SignableRequest::new(method, url, headers.iter().copied(), SignableBody::Bytes(body))
        .map_err(|e| SignError(e.to_string()))?;
    let (instructions, _signature) = sign(request, &params).map_err(|e| SignError(e.to_string()))?.into_parts();
    let (signed, _query) = instructions.into_parts();
    Ok(signed.into_iter().map(|h| (h.name().to_owned(), h.value().to_owned())).collect())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    /// AWS's published SigV4 test suite, case `post-x-www-form-urlencoded` (credentials
    /// AKIDEXAMPLE, 20150830T123600Z, us-east-1, service `service`): the expected
    /// signature is the one in the suite's `.authz` file.
    #[test]
    fn reproduces_the_published_test_vector() {
        let creds = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        };
        let time = UNIX_EPOCH + Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
        let headers = sign_headers(
            &creds,
            "us-east-1",
            "service",
            Signable {
                method: "POST",
                url: "https://example.amazonaws.com/",
                headers: &[("host", "example.amazonaws.com"), ("content-type", "application/x-www-form-urlencoded")],
                body: b"Param1=value1",
            },
            time,
        )
        .unwrap();
        let auth = headers.iter().find(|(n, _)| n == "authorization").map(|(_, v)| v.as_str()).unwrap();
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
        );
        assert!(headers.iter().any(|(n, v)| n == "x-amz-date" && v == "20150830T123600Z"));
    }

    #[test]
    fn session_tokens_are_sent() {
        let creds =
            Credentials { access_key_id: "A".into(), secret_access_key: "S".into(), session_token: Some("T".into()) };
        let request = Signable {
            method: "POST",
            url: "http://127.0.0.1:5000/",
            headers: &[("host", "127.0.0.1:5000")],
            body: b"{}",
        };
        let headers = sign_headers(&creds, "eu-west-1", "dynamodb", request, SystemTime::now()).unwrap();
        assert!(headers.iter().any(|(n, v)| n == "x-amz-security-token" && v == "T"));
    }
}
