#!/usr/bin/env bash
# Writes fuzz/seeds/TARGET/ from the project's real fixtures (docs/fuzzing.md). Committed; run
# again when a fixture changes. The fuzzers start from these and fuzz/corpus/TARGET/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
c="$root/fuzz/seeds"
fx="$root/crates/truce-ingest/tests/fixtures"
sc="$root/scenarios/donbas-2015"
mkdir -p "$c"/{agreement,observation,tabular,cot,note,proof,api_body,api_query}

# agreement: the TOML, then each geometry file as NUL, path, newline, bytes (truce_fuzz::agreement).
{
    cat "$sc/agreement.toml"
    for g in "$sc"/geometry/*.geojson; do
        printf '\0geometry/%s\n' "$(basename "$g")"
        cat "$g"
    done
} > "$c/agreement/seed-donbas-2015"
cp "$sc/agreement.toml" "$c/agreement/seed-toml-only"

cp "$fx"/geojson/* "$c/observation/"

cp "$fx"/csv/*.csv "$c/tabular/"
# The FIRMS and UCDP fixtures: their header and first rows (the whole files add only size).
for f in "$fx"/firms/*.csv "$fx"/ucdp/*.csv; do head -n 40 "$f" > "$c/tabular/head-$(basename "$f")"; done
# The scenario's feeds are megabytes: their header and first rows.
for f in "$sc"/feeds/*.csv; do head -n 30 "$f" > "$c/tabular/feed-head-$(basename "$f")"; done

for d in "$fx"/cot/*/; do
    for f in "$d"*.xml; do cp "$f" "$c/cot/$(basename "$d")-$(basename "$f")"; done
done

v="$root/crates/truce-log/tests/vectors/signed-note"
cp "$v"/* "$c/note/"

# The API's JSON bodies and query strings, as docs/api.md shows them.
b="$c/api_body"
printf '%s' '{"action":"attribute","party":"ru","reason":"crater analysis"}' > "$b/decision"
printf '%s' '{"action":"verify","reason":"two sources"}' > "$b/decision-verify"
printf '%s' '{"response":"dispute","text":"our positions were not there","evidence":[12,14]}' > "$b/response"
printf '%s' '{"incident":"inc-21","reason":"send a team"}' > "$b/task"
printf '%s' '{"outcome":"confirmed","kind":"impact","remarks":"fresh crater","location":[38.05,48.3],"error_radius_m":25.5,"observed_at":"2015-02-15T10:00:00Z"}' > "$b/outcome"
printf '%s' '{"outcome":"access_denied"}' > "$b/outcome-denied"
q="$c/api_query"
printf '%s' 'bbox=37.5,47.8,38.5,48.6&from=2015-02-15T00:00:00Z&to=2015-02-16T00:00:00Z&party=ru&state=verified&rule=heavy-weapons&source_kind=ground_team&limit=50&offset=10' > "$q/incidents"
printf '%s' 'old_size=3' > "$q/proof"
printf '%s' 'format=cot' > "$q/ingest"
printf '%s' 'lang=uk&file=report.pdf' > "$q/report"
printf '%s' 'from=2015-03-01&days=7' > "$q/coverage"
printf '%s' 'bbox=170,0,-170,10&datetime=2015-02-15/..&limit=10&offset=0&f=json' > "$q/ogc-items"
printf '%s' 'bbox=38,48,0,39,49,100&datetime=2015-02-15T00:00:00Z' > "$q/ogc-items-3d"

# The log's texts with no fixture file: made with Go's test key and a real in-memory log.
(cd "$root" && cargo test --release -q -p truce-fuzz --test seeds -- --ignored >/dev/null)

for t in "$c"/*/; do echo "$(basename "$t"): $(ls "$t" | wc -l) seeds" >&2; done
