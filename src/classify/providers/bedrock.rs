//! AWS Bedrock (`bedrock-runtime.<region>.amazonaws.com`): the exception
//! name travels in the `x-amzn-ErrorType` header (and `__type` in some
//! bodies), the body is `{"message": "…"}`. The classifier puts the name
//! in `error.type`, so these rules read it like any other type.

use super::{Def, On, Rule};
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
        .is_some_and(|v| crate::classify::search::contains(v, "bedrock"))
}

const RULES: [Rule; 12] = [
    Rule {
        when: &[(On::Ty, "ServiceQuotaExceededException")],
        ..Rule::new(
            Kind::QuotaExhausted,
            "the account's Bedrock service quota is used up: it needs a quota increase, not a retry",
        )
    },
    Rule {
        when: &[(On::Ty, "ValidationException"), (On::Says, "input is too long"), (On::Says, "prompt is too long"), (On::Says, "too many input tokens")],
                ..Rule::new(Kind::ContextLength, "the prompt exceeds the model's context window")
    },
    Rule {
        when: &[(On::Ty, "ThrottlingException")],
        ..Rule::new(Kind::RateLimit, "ThrottlingException: too many requests or tokens for now")
    },
    Rule {
        when: &[(On::Ty, "ModelNotReadyException")],
        ..Rule::new(Kind::Overloaded, "the model is not ready to serve yet: it heals by waiting")
    },
    Rule {
        when: &[(On::Ty, "ServiceUnavailableException")],
        ..Rule::new(Kind::Overloaded, "the service is unavailable: it heals by waiting")
    },
    Rule {
        when: &[(On::Ty, "UnrecognizedClientException")],
        ..Rule::new(Kind::Auth, "the AWS credentials are missing or invalid")
    },
    Rule {
        when: &[(On::Ty, "AccessDeniedException")],
        ..Rule::new(Kind::Permission, "the credentials are not allowed to invoke this model")
    },
    Rule {
        when: &[(On::Ty, "ResourceNotFoundException")],
        ..Rule::new(Kind::NotFound, "the model or endpoint does not exist")
    },
    Rule {
        when: &[(On::Ty, "InternalServerException"), (On::Ty, "ModelErrorException")],
        ..Rule::new(Kind::ServerError, "the provider reports an internal error")
    },
    Rule {
        when: &[(On::Ty, "ModelTimeoutException")],
        ..Rule::new(Kind::Timeout, "the model took too long to answer")
    },
    Rule {
        when: &[(On::Ty, "ModelStreamErrorException")],
        ..Rule::new(Kind::ServerError, "the model's stream failed")
    },
    Rule {
        when: &[(On::Ty, "ValidationException")],
        ..Rule::new(Kind::BadRequest, "the request failed Bedrock's validation: sending it again will not help")
    },
];
