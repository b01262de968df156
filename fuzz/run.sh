#!/usr/bin/env bash
# Truce's fuzz targets under libFuzzer, on the stable toolchain (docs/fuzzing.md).
#
#   fuzz/run.sh list                  the targets
#   fuzz/run.sh build                 build every target (instrumented, release + debug assertions)
#   fuzz/run.sh TARGET SECONDS [ARG…] fuzz TARGET for SECONDS from fuzz/seeds/TARGET/ and
#                                     fuzz/corpus/TARGET/; new inputs go to the corpus, crashes,
#                                     hangs and OOMs to fuzz/artifacts/TARGET/; extra ARGs go to
#                                     libFuzzer (e.g. -jobs=2 -workers=2)
#   fuzz/run.sh merge TARGET          cut fuzz/corpus/TARGET/ to the inputs that add coverage to
#                                     the seeds, smallest first, within FUZZ_CORPUS_KB (32) KiB;
#                                     everything found is kept in fuzz/corpus-full/ (not committed)
#   fuzz/run.sh replay TARGET FILE…   run inputs once (a crash's reproduction)
#
# Limits (environment): FUZZ_RSS_MB (2048) memory per process, FUZZ_TIMEOUT (10) seconds one
# input may take, FUZZ_MAX_LEN (262144) bytes of input. The build is `cargo build` of the
# workspace fuzz/ (its own Cargo.lock and target/), with the coverage instrumentation cargo-fuzz
# uses, passed as stable rustc flags: SanitizerCoverage's inline 8-bit counters, PC table and
# comparison tracing, which libFuzzer (built by libfuzzer-sys with the C++ compiler) reads.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
host=$(rustc -vV | sed -n 's/^host: //p')
bin_dir="$here/target/$host/release"

targets() {
    for f in "$here"/fuzz_targets/*.rs; do basename "$f" .rs; done
}

build() {
    # `--target` keeps the flags off build scripts and proc macros, as cargo-fuzz does.
    RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks" \
        nice -n 10 cargo build --release --locked --manifest-path "$here/Cargo.toml" \
        --target "$host" --target-dir "$here/target" --bins "$@" >&2
}

known() {
    targets | grep -x -- "$1" >/dev/null || { echo "no target $1; fuzz/run.sh list" >&2; exit 2; }
}

case "${1:-}" in
    list) targets ;;
    build) build ;;
    merge)
        known "${2:?fuzz/run.sh merge TARGET}"
        t=$2
        build --bin "$t"
        corpus="$here/corpus/$t"
        seeds="$here/seeds/$t"
        budget=${FUZZ_CORPUS_KB:-32}
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' EXIT
        # The seeds go in first, so only inputs that add to them are kept: the smallest set
        # covering the edges (-use_counters=0: edges, not hit counts), then the smallest of
        # those up to the budget. The full corpus of a long run stays in fuzz/corpus-full/.
        mkdir -p "$tmp/out" "$here/corpus-full/$t"
        cp "$corpus"/* "$here/corpus-full/$t/" 2>/dev/null || true
        cp "$seeds"/* "$tmp/out/"
        nice -n 10 "$bin_dir/$t" -set_cover_merge=1 -use_counters=0 \
            -rss_limit_mb="${FUZZ_RSS_MB:-2048}" -timeout="${FUZZ_TIMEOUT:-10}" \
            -max_len="${FUZZ_MAX_LEN:-262144}" "$tmp/out" "$here/corpus-full/$t" 2>"$tmp/log" \
            || { cat "$tmp/log" >&2; exit 1; }
        for f in "$seeds"/*; do rm -f "$tmp/out/$(basename "$f")"; done
        rm -rf "$corpus"
        mkdir -p "$corpus"
        total=0
        while read -r size f; do
            total=$((total + size))
            [ "$total" -le $((budget * 1024)) ] || break
            cp "$f" "$corpus/"
        done < <(find "$tmp/out" -type f -printf '%s %p\n' | sort -n)
        echo "$t: $(ls "$corpus" | wc -l) of $(ls "$tmp/out" | wc -l) inputs that add edges to the seeds, $(du -sb "$corpus" | cut -f1) bytes (budget ${budget} KiB)" >&2
        ;;
    replay)
        known "${2:?fuzz/run.sh replay TARGET FILE…}"
        t=$2
        shift 2
        build --bin "$t"
        "$bin_dir/$t" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" -timeout="${FUZZ_TIMEOUT:-10}" "$@"
        ;;
    "" | -h | --help)
        sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
        ;;
    *)
        known "$1"
        t=$1
        seconds=${2:?fuzz/run.sh TARGET SECONDS}
        shift 2
        build --bin "$t"
        mkdir -p "$here/corpus/$t" "$here/artifacts/$t"
        dict=()
        case $t in
            cot) dict=(-dict="$here/dict/cot.dict") ;;
            observation | api_body | proof | agreement) dict=(-dict="$here/dict/json.dict") ;;
            api_query) dict=(-dict="$here/dict/api_query.dict") ;;
        esac
        log="$here/artifacts/$t/run-$(date -u +%Y%m%dT%H%M%SZ).log"
        echo "fuzzing $t for ${seconds}s on $(nproc) cores; log $log" >&2
        status=0
        nice -n 10 "$bin_dir/$t" "$here/corpus/$t" "$here/seeds/$t" \
            -max_total_time="$seconds" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" \
            -timeout="${FUZZ_TIMEOUT:-10}" -max_len="${FUZZ_MAX_LEN:-262144}" \
            -print_final_stats=1 -artifact_prefix="$here/artifacts/$t/" "${dict[@]}" "$@" \
            2>"$log" || status=$?
        # The last status line, and the final stats.
        grep -E '^#[0-9]+' "$log" | tail -1 || true
        grep -E '^stat::' "$log" || true
        echo "corpus: $(ls "$here/corpus/$t" | wc -l) inputs, $(du -sk "$here/corpus/$t" | cut -f1) KiB" >&2
        if [ "$status" -ne 0 ]; then
            tail -40 "$log" >&2
            echo "$t: libFuzzer exited $status: see $log and fuzz/artifacts/$t/" >&2
        fi
        exit "$status"
        ;;
esac
