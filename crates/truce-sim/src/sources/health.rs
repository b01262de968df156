//! Sensor health: every period a sensor was not looking — a camera without power, a jammed or
//! grounded drone, a satellite pass lost or under cloud — as a `coverage` observation, so that
//! silence is not mistaken for compliance. Written by the mission's operations desk into one
//! feed for all sensors; the source of each record is the sensor itself.

use truce_core::observation::{Coverage, ObservationKind, Reliability, SensorStatus};

use super::{Gap, Ids, Scene, observation, source};
use crate::FeedFormat;
use crate::records::{Defect, Draft, Record, Written};
use crate::rng::Stream;
use crate::truth::Outage;

fn status(name: &str) -> SensorStatus {
    match name {
        "jammed" => SensorStatus::Jammed,
        "degraded" => SensorStatus::Degraded,
        "pass_missed" => SensorStatus::PassMissed,
        _ => SensorStatus::Offline,
    }
}

/// Writes the coverage feed, and returns the outages with the id of the record of each (none
/// for a record written malformed).
pub(crate) fn write(scene: &Scene<'_, '_>, mut gaps: Vec<Gap>) -> (Written, Vec<Outage>) {
    let mut rng = scene.rng(Stream::SensorHealth, 0);
    gaps.sort_by(|a, b| {
        a.outage
            .from
            .cmp(&b.outage.from)
            .then_with(|| a.sensor.cmp(&b.sensor))
    });
    let mut draft = Draft::new(
        "sensor-health.geojson",
        FeedFormat::GeoJson,
        &[Defect::UnknownStatus],
    );
    let mut ids = Ids::default();
    let mut outages = Vec::with_capacity(gaps.len());
    for gap in gaps {
        let o = &gap.outage;
        let mut obs = observation(
            ids.next("health", o.from),
            ObservationKind::Coverage,
            o.from,
            source(&gap.sensor, gap.kind, Reliability::A, 1),
            gap.geometry,
        );
        obs.properties.coverage = Some(Coverage {
            sensor: gap.sensor.clone(),
            status: status(&o.status),
            until: Some(o.until),
        });
        obs.properties.remarks = o.cause.clone();
        let mut outage = gap.outage;
        outage.observation_id = obs.id.clone();
        outages.push(outage);
        draft.records.push(Record::feature(obs, Vec::new()));
    }
    let written = draft.write(&mut rng);
    for outage in &mut outages {
        if outage
            .observation_id
            .as_ref()
            .is_some_and(|id| written.rejected_ids.contains(id))
        {
            outage.observation_id = None;
        }
    }
    (written, outages)
}
