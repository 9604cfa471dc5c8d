#!/usr/bin/env bash
# Smoke test of the frozen build (packaging/build.sh): CI-able, not part of the pytest run.
#
#   packaging/smoke.sh [APP_DIR]    # default dist/ugpcl-studio
#
# 1. `ugpcl-studio --version` prints the version of pyproject.toml;
# 2. `ugpcl-studio --sample --screenshot out.png` (offscreen Qt) opens the bundled chest CT and
#    writes a non-empty PNG of the window, exit code 0;
# 3. `ugpcl-studio --frozen-self-test` starts the training child's and the ONNX export's modules
#    in spawned children of the frozen executable (torch, onnx, onnxruntime), as the GUI does;
# 4. `ugpcl-studio --frozen-fill-test` runs Fill between slices as the GUI does: its ITK child is
#    the frozen executable started with --mci-worker; two discs on slices 0 and 10 of a tiny
#    volume must come back unchanged, with a disc filled in on slice 5;
# 5. the headless pipeline on the bundled sample: train (2 steps, CPU), export ONNX (with its
#    torch/onnxruntime parity check), predict with onnxruntime (SMOKE_QUICK=1 skips it).
# Runs from an empty folder with a scratch HOME, so nothing of the checkout or the user leaks in.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APP="$(cd "${1:-$ROOT/dist/ugpcl-studio}" && pwd)"
EXE="$APP/ugpcl-studio"
[ -x "$EXE" ] || { echo "FAIL: no executable $EXE (run packaging/build.sh)" >&2; exit 1; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config" XDG_DATA_HOME="$WORK/home/.local"
export XDG_CACHE_HOME="$WORK/home/.cache" QT_QPA_PLATFORM=offscreen PYTHONNOUSERSITE=1
mkdir -p "$HOME"
unset PYTHONPATH PYTHONHOME
start=$(date +%s)

expected="$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/pyproject.toml" | head -1)"
got="$("$EXE" --version)"
[ "$got" = "ugpcl-studio $expected" ] || { echo "FAIL: --version said '$got'" >&2; exit 1; }
echo "ok: $got"

"$EXE" --sample --screenshot "$WORK/out.png" >"$WORK/gui.log" 2>&1 || {
    cat "$WORK/gui.log" >&2; echo "FAIL: --sample --screenshot" >&2; exit 1; }
grep -q "screenshot written" "$WORK/gui.log" || { cat "$WORK/gui.log" >&2; exit 1; }
[ "$(head -c 8 "$WORK/out.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || {
    echo "FAIL: out.png is not a PNG" >&2; exit 1; }
size=$(wc -c <"$WORK/out.png")
[ "$size" -gt 20000 ] || { echo "FAIL: out.png is only $size bytes" >&2; exit 1; }
[ -n "${SMOKE_SCREENSHOT:-}" ] && cp "$WORK/out.png" "$SMOKE_SCREENSHOT"
echo "ok: --sample --screenshot wrote a $size-byte PNG"

"$EXE" --frozen-self-test || { echo "FAIL: a spawned child did not start" >&2; exit 1; }
echo "ok: spawned children start from the frozen executable"

"$EXE" --frozen-fill-test || { echo "FAIL: Fill between slices (its ITK child)" >&2; exit 1; }
echo "ok: Fill between slices runs its ITK child (--mci-worker) from the frozen executable"

if [ -z "${SMOKE_QUICK:-}" ]; then
    DATA="$APP/_internal/slicerio/data"
    "$EXE" train --image "$DATA/CTChest4.nrrd" --labels "$DATA/Segmentation.seg.nrrd" \
        --slices 5,17,28 --steps 2 --device cpu --out "$WORK/run" >"$WORK/train.log" 2>&1 || {
        cat "$WORK/train.log" >&2; echo "FAIL: train" >&2; exit 1; }
    "$EXE" export --checkpoint "$WORK/run/model.pt" --out "$WORK/model.onnx" >"$WORK/export.log" \
        2>&1 || { cat "$WORK/export.log" >&2; echo "FAIL: export" >&2; exit 1; }
    "$EXE" predict --model "$WORK/model.onnx" --image "$DATA/CTChest4.nrrd" --device cpu \
        --out "$WORK/prediction.nii.gz" >"$WORK/predict.log" 2>&1 || {
        cat "$WORK/predict.log" >&2; echo "FAIL: predict" >&2; exit 1; }
    [ -s "$WORK/prediction.nii.gz" ] || { echo "FAIL: no prediction written" >&2; exit 1; }
    echo "ok: train, export and predict on the bundled sample"
fi
echo "smoke passed in $(($(date +%s) - start)) s"
