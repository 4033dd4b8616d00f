//! What went wrong ([`Kind`]) and what to do about it ([`Action`]).

use serde::Serialize;

/// The kind of failure a response represents.
///
/// The wire names (`"rate_limit"`, `"quota_exhausted"`, …) are stable: they
/// are what JavaScript callers branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Kind {
    /// A 2xx response.
    Ok,
    /// Too many requests or tokens for now; heals by waiting.
    RateLimit,
    /// The account, project or budget has no money left; waiting does not help.
    QuotaExhausted,
    /// The provider is overloaded (503, 529, "engine is currently overloaded").
    Overloaded,
    /// A 5xx that is neither overload nor timeout.
    ServerError,
    /// The request or a gateway timed out (408, 504, 524).
    Timeout,
    /// No response at all: DNS, connection reset, TLS.
    Network,
    /// The API key is missing, wrong or revoked.
    Auth,
    /// The key is valid but not allowed (region, organization, model access).
    Permission,
    /// The model or endpoint does not exist.
    NotFound,
    /// The request is malformed; sending it again will not help.
    BadRequest,
    /// The prompt exceeds the model's context window.
    ContextLength,
    /// The request alone exceeds a limit (body size, tokens per minute).
    RequestTooLarge,
    /// The provider's content policy refused the request.
    ContentFilter,
    /// Nothing recognisable.
    Unknown,
    /// One of the caller's own spend budgets (`budgets`) is spent: ratewise
    /// answered locally, sending nothing, until the budget's window resets.
    BudgetExhausted,
}

/// The window a rate limit or quota covers, as the response names it
/// ("tokens per day", `GenerateRequestsPerDayPerProjectPerModel`, "1000 API
/// calls / month"). A day or month window heals in hours, not seconds: a
/// caller can fail over instead of waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// Requests or tokens per minute (or second).
    Minute,
    /// Per hour.
    Hour,
    /// Per day.
    Day,
    /// Per week.
    Week,
    /// Per month: a spend or usage cap.
    Month,
}

impl Period {
    /// The stable wire name, as JavaScript sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Minute => "minute",
            Period::Hour => "hour",
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }
}

/// What a caller should do about a [`Kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Success: nothing to do.
    None,
    /// Transient: back off and send again.
    Retry,
    /// Will not heal by waiting: stop and tell a human.
    Alert,
    /// The request itself is wrong: do not send it again.
    Fail,
}

impl Kind {
    /// Every kind, in declaration order.
    pub const ALL: [Kind; 16] = [
        Kind::Ok,
        Kind::RateLimit,
        Kind::QuotaExhausted,
        Kind::Overloaded,
        Kind::ServerError,
        Kind::Timeout,
        Kind::Network,
        Kind::Auth,
        Kind::Permission,
        Kind::NotFound,
        Kind::BadRequest,
        Kind::ContextLength,
        Kind::RequestTooLarge,
        Kind::ContentFilter,
        Kind::Unknown,
        Kind::BudgetExhausted,
    ];

    /// The action this kind calls for.
    pub fn action(self) -> Action {
        match self {
            Kind::Ok => Action::None,
            Kind::QuotaExhausted | Kind::BudgetExhausted => Action::Alert,
            Kind::RateLimit
            | Kind::Overloaded
            | Kind::ServerError
            | Kind::Timeout
            | Kind::Network => Action::Retry,
            _ => Action::Fail,
        }
    }

    /// The stable wire name, as JavaScript sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ok => "ok",
            Kind::RateLimit => "rate_limit",
            Kind::QuotaExhausted => "quota_exhausted",
            Kind::Overloaded => "overloaded",
            Kind::ServerError => "server_error",
            Kind::Timeout => "timeout",
            Kind::Network => "network",
            Kind::Auth => "auth",
            Kind::Permission => "permission",
            Kind::NotFound => "not_found",
            Kind::BadRequest => "bad_request",
            Kind::ContextLength => "context_length",
            Kind::RequestTooLarge => "request_too_large",
            Kind::ContentFilter => "content_filter",
            Kind::Unknown => "unknown",
            Kind::BudgetExhausted => "budget_exhausted",
        }
    }

    /// The kind a bare status code implies when the body says nothing better.
    pub fn from_status(status: u16) -> Kind {
        match status {
            200..=299 => Kind::Ok,
            401 => Kind::Auth,
            // Payment Required: OpenRouter's and DeepSeek's empty balance.
            402 => Kind::QuotaExhausted,
            403 => Kind::Permission,
            404 => Kind::NotFound,
            408 => Kind::Timeout,
            413 => Kind::RequestTooLarge,
            429 => Kind::RateLimit,
            400..=499 => Kind::BadRequest,
            503 | 529 => Kind::Overloaded,
            504 | 522 | 524 => Kind::Timeout,
            500..=599 => Kind::ServerError,
            _ => Kind::Unknown,
        }
    }
}

impl Action {
    /// The stable wire name, as JavaScript sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Retry => "retry",
            Action::Alert => "alert",
            Action::Fail => "fail",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_follow_the_taxonomy() {
        let retry: Vec<_> = Kind::ALL
            .iter()
            .filter(|k| k.action() == Action::Retry)
            .collect();
        assert_eq!(
            retry,
            [
                &Kind::RateLimit,
                &Kind::Overloaded,
                &Kind::ServerError,
                &Kind::Timeout,
                &Kind::Network
            ]
        );
        assert_eq!(Kind::QuotaExhausted.action(), Action::Alert);
        assert_eq!(Kind::BudgetExhausted.action(), Action::Alert);
        assert_eq!(Kind::Ok.action(), Action::None);
        assert_eq!(Kind::ContextLength.action(), Action::Fail);
        assert_eq!(Kind::Unknown.action(), Action::Fail);
    }

    #[test]
    fn wire_names_match_serde() {
        for k in Kind::ALL {
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
    }

    #[test]
    fn period_wire_names_match_serde() {
        for p in [
            Period::Minute,
            Period::Hour,
            Period::Day,
            Period::Week,
            Period::Month,
        ] {
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.as_str())
            );
        }
    }

    #[test]
    fn status_fallbacks() {
        assert_eq!(Kind::from_status(204), Kind::Ok);
        assert_eq!(Kind::from_status(422), Kind::BadRequest);
        assert_eq!(Kind::from_status(402), Kind::QuotaExhausted);
        assert_eq!(Kind::from_status(429), Kind::RateLimit);
        assert_eq!(Kind::from_status(529), Kind::Overloaded);
        assert_eq!(Kind::from_status(524), Kind::Timeout);
        assert_eq!(Kind::from_status(502), Kind::ServerError);
        assert_eq!(Kind::from_status(302), Kind::Unknown);
        assert_eq!(Kind::from_status(0), Kind::Unknown);
    }
}
