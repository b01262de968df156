//! The log's entries: what each kind records, and the bodies of the kinds Truce writes itself
//! (decisions, parties' responses, alerts). Every entry's body is canonical JSON
//! ([`crate::canonical`]); `docs/store.md` gives each kind's form.
//!
//! These types live in the core, not in the store or the ledger, so that anyone holding the
//! log — a party re-running the engine, the ledger that folds it, the store that keeps it —
//! reads the same definitions without linking a database or a server.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub seq: u64,
    pub kind: EntryKind,
    /// Canonical JSON bytes (`docs/store.md` gives each kind's form).
    pub body: Vec<u8>,
    /// Lower-case hex SHA-256 of `body`.
    pub sha256: String,
}

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// An accepted observation: its canonical JSON.
    Observation,
    /// Terms put in force: the agreement's canonical JSON (its SHA-256 is the agreement hash).
    Agreement,
    /// A rejected record: `{"file","locator","raw_sha256","reason"}`.
    Rejected,
    /// An analyst's decision on an incident ([`Decision`]).
    Decision,
    /// The monitoring mission's teams and sensors put in force ([`crate::mission`]).
    Mission,
    /// A party's response to an incident ([`Response`]).
    Response,
    /// Alerts sent (to whom, how severe, by when) or their webhook deliveries' outcomes
    /// ([`AlertRecord`]).
    Alert,
    /// A report issued (`truce report`): what it was made from and the SHA-256 of each file
    /// ([`ReportIssued`]), so a party can prove which report the monitor issued and when.
    Report,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Observation => "observation",
            Self::Agreement => "agreement",
            Self::Rejected => "rejected",
            Self::Decision => "decision",
            Self::Mission => "mission",
            Self::Response => "response",
            Self::Alert => "alert",
            Self::Report => "report",
        }
    }

    /// The kind named `name` in the `entries` table.
    pub fn parse(name: &str) -> Option<EntryKind> {
        [
            Self::Observation,
            Self::Agreement,
            Self::Rejected,
            Self::Decision,
            Self::Mission,
            Self::Response,
            Self::Alert,
            Self::Report,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }
}

/// What an analyst decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The analyst verified it (from imagery, a call, a team's word outside the system).
    Verify,
    /// Official attribution to `party`.
    Attribute,
    /// Release to the parties' and the public's views.
    Publish,
    /// Send a ground team, whatever the automatic thresholds say.
    Task,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Attribute => "attribute",
            Self::Publish => "publish",
            Self::Task => "task",
        }
    }
}

/// An analyst's decision, as its `decision` log entry holds it (canonical JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub incident: String,
    pub action: Action,
    /// For `attribute`: a party of the agreement in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party: Option<String>,
    pub actor: String,
    pub reason: String,
    pub decided_at: DateTime<Utc>,
}

/// A party's response to an incident, as its `response` log entry holds it: every response is
/// logged and shown to the other party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    pub incident: String,
    /// A party of the agreement.
    pub party: String,
    /// `acknowledge` or `dispute`.
    pub response: String,
    pub text: String,
    /// Who wrote it (the token's name).
    pub actor: String,
    /// Counter-evidence: entry seqs of observations the party posted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<u64>,
    pub responded_at: DateTime<Utc>,
}

/// An `alert` log entry (canonical JSON): the alerts the service published — to whom, how
/// severe, by when — or the outcomes of their webhook deliveries, or both. Every alert sent
/// is logged, so a party can never claim it was not told, nor the monitor that it told a party
/// it did not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRecord {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<SentAlert>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<Delivery>,
    /// When the service wrote the entry.
    pub created_at: DateTime<Utc>,
}

/// One alert as published (on the alert stream, and queued for the recipients' webhooks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentAlert {
    /// `alert:<incident>:<entry seq behind it>`; the webhook's `X-Truce-Alert-Id`.
    pub id: String,
    /// `breach`, `state` or `response`.
    pub kind: String,
    pub incident: String,
    /// The incident's state when the alert was sent.
    pub state: String,
    /// After escalation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<crate::agreement::Severity>,
    /// The rules' own severity, when a repeat escalated it, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalated_from: Option<crate::agreement::Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<String>,
    pub rules: Vec<String>,
    /// The parties told (staff are told of every alert).
    pub recipients: Vec<String>,
    /// The parties of `recipients` with a webhook the alert was queued for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<String>,
    /// The deadline the agreement's escalation section sets, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_s: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    /// The entry behind the alert (the observation, decision or response).
    pub cause_seq: u64,
}

/// What became of one alert's webhook delivery to one party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    pub alert: String,
    pub incident: String,
    pub party: String,
    /// The endpoint, without its query string (which may hold a token).
    pub endpoint: String,
    /// `delivered` (a 2xx answer) or `failed` (given up).
    pub outcome: String,
    /// The last HTTP status received, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub attempts: u32,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the outcome was known.
    pub at: DateTime<Utc>,
    /// Whether it was delivered by the alert's deadline (None: no deadline, or not delivered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_time: Option<bool>,
}

/// Transition actions that record who was told, not a change of the incident.
pub const ALERT_ACTIONS: [&str; 3] = ["alert", "delivered", "undelivered"];

/// A `report` entry: a report issued from the log at `log_size` entries (root `root`), for an
/// audience, with the SHA-256 of each file written. The report is a pure function of the log
/// at that size and these options: anyone holding the store makes it again and compares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportIssued {
    /// `daily` or `spot`.
    pub kind: String,
    /// The day (`YYYY-MM-DD`) of a daily report, the incident id of a spot report.
    pub subject: String,
    /// `public`, `party:ID` or `staff`.
    pub audience: String,
    /// `en`, `uk` or `ru`.
    pub lang: String,
    /// The log size and root (lower-case hex) the report was made from.
    pub log_size: u64,
    pub root: String,
    /// File name → lower-case hex SHA-256, sorted by name.
    pub files: std::collections::BTreeMap<String, String>,
}
