//! AWS Bedrock (`bedrock-runtime.<region>.amazonaws.com`): the exception
//! name travels in the `x-amzn-ErrorType` header (and `__type` in some
//! bodies), the body is `{"message": "…"}`. The classifier puts the name
//! in `error.type`, so these rules read it like any other type.

use super::{Def, Rule};
use crate::classify::headers::Headers;
use crate::classify::kind::Kind;
use crate::classify::provider::Provider;

pub const DEF: Def = Def {
    id: Provider::Bedrock,
    hosts: &[
        "bedrock-runtime.*.amazonaws.com",
        "bedrock-runtime-fips.*.amazonaws.com",
    ],
    headers,
    rules: &RULES,
};

/// The header AWS names the exception in.
pub const ERROR_TYPE_HEADER: &str = "x-amzn-errortype";

fn headers(h: &Headers) -> bool {
    h.get(ERROR_TYPE_HEADER)
        .is_some_and(|v| v.contains("bedrock"))
}

const RULES: [Rule; 12] = [
    Rule {
        ty: &["ServiceQuotaExceededException"],
        ..Rule::new(
            Kind::QuotaExhausted,
            "the account's Bedrock service quota is used up: it needs a quota increase, not a retry",
        )
    },
    Rule {
        ty: &["ValidationException"],
        says: &["input is too long", "prompt is too long", "too many input tokens"],
        ..Rule::new(Kind::ContextLength, "the prompt exceeds the model's context window")
    },
    Rule {
        ty: &["ThrottlingException"],
        ..Rule::new(Kind::RateLimit, "ThrottlingException: too many requests or tokens for now")
    },
    Rule {
        ty: &["ModelNotReadyException"],
        ..Rule::new(Kind::Overloaded, "the model is not ready to serve yet: it heals by waiting")
    },
    Rule {
        ty: &["ServiceUnavailableException"],
        ..Rule::new(Kind::Overloaded, "the service is unavailable: it heals by waiting")
    },
    Rule {
        ty: &["UnrecognizedClientException"],
        ..Rule::new(Kind::Auth, "the AWS credentials are missing or invalid")
    },
    Rule {
        ty: &["AccessDeniedException"],
        ..Rule::new(Kind::Permission, "the credentials are not allowed to invoke this model")
    },
    Rule {
        ty: &["ResourceNotFoundException"],
        ..Rule::new(Kind::NotFound, "the model or endpoint does not exist")
    },
    Rule {
        ty: &["InternalServerException", "ModelErrorException"],
        ..Rule::new(Kind::ServerError, "the provider reports an internal error")
    },
    Rule {
        ty: &["ModelTimeoutException"],
        ..Rule::new(Kind::Timeout, "the model took too long to answer")
    },
    Rule {
        ty: &["ModelStreamErrorException"],
        ..Rule::new(Kind::ServerError, "the model's stream failed")
    },
    Rule {
        ty: &["ValidationException"],
        ..Rule::new(Kind::BadRequest, "the request failed Bedrock's validation: sending it again will not help")
    },
];
