//! Standard Webhooks (<https://www.standardwebhooks.com>): `webhook-id`, `webhook-timestamp` and
//! `webhook-signature: v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`, secrets
//! written `whsec_<base64>`. Used both ways: to sign what the outbox delivers and to verify what
//! helpdesks send in.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2_010::Sha256;

type HmacSha256 = Hmac<Sha256>;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// How far a signed timestamp may be from now, either way.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// A signing secret: `whsec_` followed by the base64 of the key bytes.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

impl TryFrom<String> for WebhookSecret {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl WebhookSecret {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let encoded = raw
            .strip_prefix("whsec_")
            .ok_or_else(|| "a webhook secret must start with whsec_".to_string())?;
        let bytes = BASE64
            .decode(encoded)
            .map_err(|e| format!("a webhook secret must be whsec_ + base64: {e}"))?;
        if bytes.len() < 16 {
            return Err("a webhook secret must hold at least 16 bytes".into());
        }
        Ok(Self(bytes))
    }

    /// A fresh random secret (for tests and `fathom serve --print-secret`).
    pub fn generate() -> Self {
        let bytes: [u8; 24] = rand::random();
        Self(bytes.to_vec())
    }

    /// The `whsec_…` form, to hand to the other side.
    pub fn to_whsec(&self) -> String {
        format!("whsec_{}", BASE64.encode(&self.0))
    }

    /// `v1,<base64 signature>` of one message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", BASE64.encode(self.mac(id, timestamp, body)))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("hmac accepts keys of any size");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }

    /// Constant-time check of one raw signature.
    fn matches(&self, id: &str, timestamp: i64, body: &[u8], signature: &[u8]) -> bool {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("hmac accepts keys of any size");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.verify_slice(signature).is_ok()
    }
}

/// The `webhook-signature` header value: one `v1,…` entry per secret, space-separated.
pub fn signature_header(
    secrets: &[WebhookSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|secret| secret.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the request carries no webhook-id, webhook-timestamp or webhook-signature header")]
    MissingHeaders,
    #[error("webhook-timestamp is not a number of seconds")]
    BadTimestamp,
    #[error("webhook-timestamp is more than five minutes from now")]
    TimestampOutOfTolerance,
    #[error("no signature matches")]
    NoMatchingSignature,
}

impl VerifyError {
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingHeaders => "missing_webhook_signature",
            Self::BadTimestamp | Self::TimestampOutOfTolerance => "invalid_webhook_timestamp",
            Self::NoMatchingSignature => "invalid_webhook_signature",
        }
    }
}

/// The signed headers of an inbound request.
#[derive(Debug, Clone, Copy)]
pub struct SignedHeaders<'a> {
    pub id: &'a str,
    pub timestamp: &'a str,
    pub signature: &'a str,
}

impl<'a> SignedHeaders<'a> {
    pub fn from_headers(headers: &'a http::HeaderMap) -> Result<Self, VerifyError> {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .ok_or(VerifyError::MissingHeaders)
        };
        Ok(Self {
            id: get(HEADER_ID)?,
            timestamp: get(HEADER_TIMESTAMP)?,
            signature: get(HEADER_SIGNATURE)?,
        })
    }

    /// Accept if the timestamp is within tolerance of `now_secs` and any `v1` signature matches
    /// any of the secrets.
    pub fn verify(
        &self,
        secrets: &[&WebhookSecret],
        body: &[u8],
        now_secs: i64,
    ) -> Result<(), VerifyError> {
        let timestamp: i64 = self
            .timestamp
            .trim()
            .parse()
            .map_err(|_| VerifyError::BadTimestamp)?;
        if (now_secs - timestamp).abs() > TOLERANCE_SECS {
            return Err(VerifyError::TimestampOutOfTolerance);
        }
        let candidates = self
            .signature
            .split_whitespace()
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter_map(|encoded| BASE64.decode(encoded).ok());
        for candidate in candidates {
            if secrets
                .iter()
                .any(|secret| secret.matches(self.id, timestamp, body, &candidate))
            {
                return Ok(());
            }
        }
        Err(VerifyError::NoMatchingSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from the Standard Webhooks specification's reference libraries.
    #[test]
    fn signs_like_the_reference_implementation() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn any_of_several_signatures_verifies_during_rotation() {
        let old = WebhookSecret::generate();
        let new = WebhookSecret::generate();
        let body = b"{}";
        let header = signature_header(&[new.clone(), old.clone()], "msg_1", 1_000, body);
        let mut headers = http::HeaderMap::new();
        headers.insert(HEADER_ID, "msg_1".parse().unwrap());
        headers.insert(HEADER_TIMESTAMP, "1000".parse().unwrap());
        headers.insert(HEADER_SIGNATURE, header.parse().unwrap());
        let signed = SignedHeaders::from_headers(&headers).unwrap();
        assert_eq!(signed.verify(&[&old], body, 1_000), Ok(()));
        assert_eq!(signed.verify(&[&new], body, 1_100), Ok(()));
        assert_eq!(
            signed.verify(&[&WebhookSecret::generate()], body, 1_000),
            Err(VerifyError::NoMatchingSignature)
        );
        assert_eq!(
            signed.verify(&[&old], b"{ }", 1_000),
            Err(VerifyError::NoMatchingSignature),
            "a changed body fails"
        );
        assert_eq!(
            signed.verify(&[&old], body, 1_000 + TOLERANCE_SECS + 1),
            Err(VerifyError::TimestampOutOfTolerance)
        );
    }

    #[test]
    fn malformed_secrets_are_refused() {
        for bad in [
            "",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_!!!",
            "whsec_c2hvcnQ=",
        ] {
            assert!(WebhookSecret::parse(bad).is_err(), "{bad}");
        }
        let secret = WebhookSecret::generate();
        assert_eq!(WebhookSecret::parse(&secret.to_whsec()).unwrap(), secret);
    }
}
