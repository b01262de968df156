//! The bundled donbas-2015 scenario, embedded in the binary so `truce demo` runs from anywhere.

use anyhow::Result;
use truce_core::agreement::Agreement;

/// How the embedded agreement is named in messages.
pub const AGREEMENT_NAME: &str = "scenarios/donbas-2015/agreement.toml";

const AGREEMENT_TOML: &str = include_str!("../../../scenarios/donbas-2015/agreement.toml");

const GEOMETRY: [(&str, &[u8]); 6] = [
    (
        "geometry/contact-line.geojson",
        include_bytes!("../../../scenarios/donbas-2015/geometry/contact-line.geojson"),
    ),
    (
        "geometry/area-ua.geojson",
        include_bytes!("../../../scenarios/donbas-2015/geometry/area-ua.geojson"),
    ),
    (
        "geometry/area-ru.geojson",
        include_bytes!("../../../scenarios/donbas-2015/geometry/area-ru.geojson"),
    ),
    (
        "geometry/zone-stanytsia-luhanska.geojson",
        include_bytes!("../../../scenarios/donbas-2015/geometry/zone-stanytsia-luhanska.geojson"),
    ),
    (
        "geometry/zone-zolote.geojson",
        include_bytes!("../../../scenarios/donbas-2015/geometry/zone-zolote.geojson"),
    ),
    (
        "geometry/zone-petrivske.geojson",
        include_bytes!("../../../scenarios/donbas-2015/geometry/zone-petrivske.geojson"),
    ),
];

/// Real feeds bundled with the scenario (sources and licences in its feeds/README.md).
pub const REAL_FEEDS: [(&str, &[u8]); 2] = [
    (
        "firms_viirs_snpp_donbas_2023.csv",
        include_bytes!("../../../scenarios/donbas-2015/feeds/firms_viirs_snpp_donbas_2023.csv"),
    ),
    (
        "ucdp_ged_donbas_2015_2021.csv",
        include_bytes!("../../../scenarios/donbas-2015/feeds/ucdp_ged_donbas_2015_2021.csv"),
    ),
];

/// The embedded terms, loaded and checked exactly as a file on disk would be.
pub fn agreement() -> Result<Agreement> {
    let mut resolve = |rel: &str| {
        GEOMETRY
            .iter()
            .find(|(name, _)| *name == rel)
            .map(|(_, bytes)| bytes.to_vec())
            .ok_or_else(|| format!("{rel} is not embedded in this build"))
    };
    truce_core::agreement::load(AGREEMENT_NAME, AGREEMENT_TOML, &mut resolve).map_err(|diags| {
        let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("the embedded scenario does not load:\n{}", lines.join("\n"))
    })
}
