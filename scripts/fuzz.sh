#!/usr/bin/env bash
# Fuzzes the decoder entry points with cargo-fuzz (libFuzzer + AddressSanitizer) on the
# stable toolchain; see fuzz/README.md.
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# Default: 600 s for every target (the documented long run). scripts/test.sh runs a short one
# with FUZZ_RUNS=N: exactly N inputs per target from the fixed seed 1, so the short pass is
# the same on every machine (a time budget would explore more or less depending on load).
# Exits non-zero on the first finding; the input is saved under fuzz/artifacts/TARGET/ and
# the command to reproduce it is printed. Corpora grow in fuzz/corpus/TARGET/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
secs=${1:-600}
shift || true
all=(decompress decompress_crc read_header capi filter roundtrip)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

# cargo-fuzz passes -Z flags (-Zsanitizer=address, ...); RUSTC_BOOTSTRAP=1 lets the stable
# rustc accept them. No nightly toolchain is needed or fetched.
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version 2>/dev/null | grep -q '^cargo-fuzz 0\.13\.'; then
  echo "== installing cargo-fuzz 0.13 from crates.io"
  cargo install cargo-fuzz --locked --version '^0.13'
fi

cd fuzz
echo "== cargo fuzz build (release, debug assertions, ASan)"
t0=$(date +%s)
cargo fuzz build
echo "fuzz build took $(($(date +%s) - t0)) s"

# Seeds: every golden stream of every format version, plus the committed seeds (the forged
# stream of issue 12, fuzz findings), plus tests/fuzz_corpus/TARGET/ (inputs of that target
# only). Targets with a control byte get it prepended (0 = plain) to the stream seeds.
rm -rf seeds
for t in "${targets[@]}"; do
  mkdir -p "seeds/$t" "corpus/$t"
  for f in "$root"/tests/golden/*.apr "$root"/tests/fuzz_corpus/* "$root/tests/fuzz_corpus/$t"/*; do
    [ -f "$f" ] || continue
    case "$t" in
      capi|filter) { printf '\0'; cat "$f"; } > "seeds/$t/$(basename "$f")" ;;
      *) cp "$f" "seeds/$t/" ;;
    esac
  done
done

mkdir -p logs
if [ -n "${FUZZ_RUNS:-}" ]; then
  budget="-runs=$FUZZ_RUNS -seed=1"; what="$FUZZ_RUNS runs (seed 1)"
else
  budget="-max_total_time=$secs"; what="${secs}s"
fi
for t in "${targets[@]}"; do
  echo "== fuzz $t for $what (full log: fuzz/logs/$t.log)"
  set +e
  # The filter reports each refused chunk on stderr (no libhdf5 error stack here): not logged.
  cargo fuzz run "$t" "corpus/$t" "seeds/$t" -- \
    $budget -timeout=60 -rss_limit_mb=4096 -max_len=16384 \
    -print_final_stats=1 2>&1 | grep --line-buffered -v '^h5z-apr: H5Z_apr_decode:' > "logs/$t.log"
  rc=${PIPESTATUS[0]}
  set -e
  grep -v -E '^#[0-9]+' "logs/$t.log" | tail -n 30
  if [ "$rc" -ne 0 ]; then
    echo "fuzz target $t FAILED (exit $rc); reproduce (in fuzz/):"
    echo "  RUSTC_BOOTSTRAP=1 cargo fuzz run $t artifacts/$t/<crash-file>"
    exit "$rc"
  fi
done
echo "fuzz: ${#targets[@]} targets x $what, no findings"
