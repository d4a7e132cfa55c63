//! The state of one field: known with provenance, or unknown with a reason.
//! This is the core contract of the data model (DESIGN.md "Field states").

use super::Value;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a known value came from: `input`, or a provider operation id like
/// `mailfinder.email-finder`, or a built-in step like `builtin.email-guess`.
pub type Source = super::Name;

/// The source name for values that came with the imported record.
pub const SOURCE_INPUT: &str = "input";

/// [`SOURCE_INPUT`], interned once (every imported value carries it).
pub fn source_input() -> Source {
    static INPUT: std::sync::OnceLock<Source> = std::sync::OnceLock::new();
    *INPUT.get_or_init(|| SOURCE_INPUT.into())
}

/// A field is either known (with provenance) or unknown (with a reason).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", try_from = "RawFieldState")]
pub enum FieldState {
    /// A value, where it came from and how far to trust it.
    Known(Known),
    /// No value, and why not.
    Unknown(Unknown),
}

/// A known value with provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Known {
    /// The normalised value.
    pub value: Value,
    /// `input` or the provider operation that supplied it.
    pub source: Source,
    /// Confidence on a 0..1 scale.
    pub confidence: f64,
    /// When the value was observed.
    #[serde(serialize_with = "super::timestamp::serialize")]
    pub observed_at: DateTime<Utc>,
    /// When the value goes stale (`None`: never, e.g. input values).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::timestamp::option"
    )]
    pub expires_at: Option<DateTime<Utc>>,
    /// The verifier's verdict, when one checked this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<String>,
}

/// Why a field has no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownReason {
    /// Nobody has been asked yet.
    NotAttempted,
    /// Every eligible provider answered "no data".
    NotFound,
    /// A provider failed; `retry_at` says when to try again.
    ProviderError,
    /// An input it depends on is unknown.
    MissingInput,
    /// Found, but failed validation at every provider.
    Invalid,
    /// A budget or the per-record ceiling stopped the lookup.
    BudgetExhausted,
    /// Scoring showed it cannot change the route.
    NotWorthIt,
}

impl UnknownReason {
    /// Every reason, in a stable order (for summaries).
    pub const ALL: [UnknownReason; 7] = [
        UnknownReason::NotAttempted,
        UnknownReason::NotFound,
        UnknownReason::ProviderError,
        UnknownReason::MissingInput,
        UnknownReason::Invalid,
        UnknownReason::BudgetExhausted,
        UnknownReason::NotWorthIt,
    ];

    /// The snake_case name used in JSON and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            UnknownReason::NotAttempted => "not_attempted",
            UnknownReason::NotFound => "not_found",
            UnknownReason::ProviderError => "provider_error",
            UnknownReason::MissingInput => "missing_input",
            UnknownReason::Invalid => "invalid",
            UnknownReason::BudgetExhausted => "budget_exhausted",
            UnknownReason::NotWorthIt => "not_worth_it",
        }
    }
}

impl std::fmt::Display for UnknownReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown field: the reason, who was asked, and when to ask again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unknown {
    /// Why there is no value.
    pub reason: UnknownReason,
    /// Provider operations asked so far, in order.
    #[serde(default)]
    pub tried: Vec<super::Name>,
    /// When a retry makes sense (provider errors, budgets).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::timestamp::option"
    )]
    pub retry_at: Option<DateTime<Utc>>,
    /// A short human detail (the provider error, the missing input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl FieldState {
    /// A value given as input (an import row, a test): full confidence, never stale.
    pub fn input(value: Value, at: DateTime<Utc>) -> FieldState {
        FieldState::Known(Known {
            value,
            source: source_input(),
            confidence: 1.0,
            observed_at: at,
            expires_at: None,
            verified: None,
        })
    }

    /// A field nobody has asked about yet.
    pub fn not_attempted() -> FieldState {
        FieldState::Unknown(Unknown {
            reason: UnknownReason::NotAttempted,
            tried: Vec::new(),
            retry_at: None,
            detail: None,
        })
    }

    /// An unknown field with a reason and the operations tried.
    pub fn unknown(reason: UnknownReason, tried: Vec<super::Name>) -> FieldState {
        FieldState::Unknown(Unknown {
            reason,
            tried,
            retry_at: None,
            detail: None,
        })
    }

    /// The value, when known.
    pub fn value(&self) -> Option<&Value> {
        match self {
            FieldState::Known(k) => Some(&k.value),
            FieldState::Unknown(_) => None,
        }
    }

    /// The known part, when known.
    pub fn known(&self) -> Option<&Known> {
        match self {
            FieldState::Known(k) => Some(k),
            FieldState::Unknown(_) => None,
        }
    }

    /// True when the value is known and not past `expires_at` at `now`.
    pub fn is_fresh(&self, now: DateTime<Utc>) -> bool {
        match self {
            FieldState::Known(k) => k.expires_at.is_none_or(|e| e > now),
            FieldState::Unknown(_) => false,
        }
    }

    /// True when the value is known but past `expires_at`.
    pub fn is_stale(&self, now: DateTime<Utc>) -> bool {
        matches!(self, FieldState::Known(k) if k.expires_at.is_some_and(|e| e <= now))
    }
}

/// The flat wire shape of a field state, read in one pass: an internally
/// tagged enum would buffer every field before choosing a variant.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFieldState {
    state: String,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    source: Option<Source>,
    #[serde(default)]
    confidence: Option<f64>,
    #[serde(default)]
    observed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    verified: Option<String>,
    #[serde(default)]
    reason: Option<UnknownReason>,
    #[serde(default)]
    tried: Vec<super::Name>,
    #[serde(default)]
    retry_at: Option<DateTime<Utc>>,
    #[serde(default)]
    detail: Option<String>,
}

impl TryFrom<RawFieldState> for FieldState {
    type Error = String;

    fn try_from(r: RawFieldState) -> Result<FieldState, String> {
        match r.state.as_str() {
            "known" => Ok(FieldState::Known(Known {
                value: r.value.ok_or("a known field needs `value`")?,
                source: r.source.ok_or("a known field needs `source`")?,
                confidence: r.confidence.ok_or("a known field needs `confidence`")?,
                observed_at: r.observed_at.ok_or("a known field needs `observed_at`")?,
                expires_at: r.expires_at,
                verified: r.verified,
            })),
            "unknown" => Ok(FieldState::Unknown(Unknown {
                reason: r.reason.ok_or("an unknown field needs `reason`")?,
                tried: r.tried,
                retry_at: r.retry_at,
                detail: r.detail,
            })),
            other => Err(format!(
                "`state` must be \"known\" or \"unknown\", got {other:?}"
            )),
        }
    }
}
