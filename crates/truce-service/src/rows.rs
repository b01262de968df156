//! The rows of the store's derived layers (`incidents`, `incident_observations`,
//! `incident_transitions`, `tasks`), built from the same views every other surface shows, so
//! the layer QGIS opens says what the API and the CLI say.

use truce_fusion::ledger::Ledger;
use truce_store::{DerivedRows, IncidentRow, OriginRow, TaskRow, TransitionRow};

use crate::view::{IncidentView, TaskView};

/// The row of incident `k` (from its whole, staff view).
pub fn incident_row(ledger: &Ledger, k: usize) -> IncidentRow {
    let v = IncidentView::of(ledger, k);
    let seqs = v
        .observation_seqs
        .clone()
        .expect("a whole view has its seqs");
    IncidentRow {
        incident_id: v.id,
        first_seq: seqs[0],
        location: v.location,
        event_group: v.group.unwrap_or_default(),
        kinds: v.kinds.unwrap_or_default(),
        state: v.state,
        evidence: v.evidence_state.unwrap_or_default(),
        confidence: v.confidence.unwrap_or_default(),
        start_at: v.start,
        end_at: v.end,
        radius_m: v.radius_m,
        source_kinds: v.source_kinds.unwrap_or_default(),
        observation_seqs: seqs,
        rules: v.rules,
        max_severity: v.max_severity.map(|s| s.as_str().to_string()),
        suggested_party: v.suggested_party,
        suggestion_basis: v.suggestion_basis,
        attributed_party: v.attributed_party,
        origin: v.origin.map(|o| OriginRow {
            point: o.point,
            semi_major_m: o.ellipse_95.semi_major_m,
            semi_minor_m: o.ellipse_95.semi_minor_m,
            azimuth_deg: o.ellipse_95.azimuth_deg,
        }),
        updated_seq: v.updated_seq.expect("a whole view has it"),
        independent_sources: v.independent_sources.map(|n| n as u64),
        links_json: v
            .links
            .as_ref()
            .map(|l| serde_json::to_string(l).expect("links serialise")),
        transitions: v
            .transitions
            .unwrap_or_default()
            .into_iter()
            .map(|t| TransitionRow {
                from_state: t.from,
                to_state: t.to,
                action: t.action,
                at: t.at,
                actor: t.actor.unwrap_or_default(),
                reason: t.reason.unwrap_or_default(),
                entry_seq: t.entry_seq,
            })
            .collect(),
    }
}

/// The row of task `t` (its index in order of creation).
pub fn task_row(ledger: &Ledger, t: usize) -> TaskRow {
    let v = TaskView::from(&ledger.tasks()[t]);
    TaskRow {
        fid: t as u64 + 1,
        location: v.location,
        task_id: v.id,
        incident_id: v.incident,
        state: v.state,
        priority: v.priority,
        team: v.team,
        distance_m: v.distance_m,
        created_at: v.created_at,
        created_seq: v.created_seq,
        assigned_at: v.assigned_at,
        outcome: v.outcome,
        outcome_at: v.outcome_at,
        outcome_seq: v.outcome_seq,
        note: v.note,
    }
}

/// Rows for the incidents and tasks given (indices), or for all of them (`all`).
pub fn derived_rows(
    ledger: &Ledger,
    all: bool,
    incidents: &[usize],
    tasks: &[usize],
) -> DerivedRows {
    let (inc, tsk): (Vec<usize>, Vec<usize>) = if all {
        (
            (0..ledger.incidents().len()).collect(),
            (0..ledger.tasks().len()).collect(),
        )
    } else {
        (incidents.to_vec(), tasks.to_vec())
    };
    DerivedRows {
        replace_all: all,
        incidents: inc.iter().map(|&k| incident_row(ledger, k)).collect(),
        tasks: tsk.iter().map(|&t| task_row(ledger, t)).collect(),
        through_seq: ledger.through_seq(),
    }
}
