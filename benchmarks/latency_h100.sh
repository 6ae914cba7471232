#!/usr/bin/env bash
# Build and validate the shipped H100 profiles (torch backend, batch 256, 224x224) on the lent H100.
#
#   bash benchmarks/latency_h100.sh smoke            # ~1 min: GPU tests, 40-op trial profile, 2-net validate
#   bash benchmarks/latency_h100.sh build fp16       # the fp16 profile (channels_last): dense grid, 2,539 ops, ~9.5 min
#   bash benchmarks/latency_h100.sh build fp32       # the fp32 profile (TF32 off): sparse grid, 1,735 ops, ~7.5 min
#   bash benchmarks/latency_h100.sh validate fp16    # 30 random nets + ResNet-50 + MobileNetV2, end to end
#   bash benchmarks/latency_h100.sh all fp16         # build, then validate (one call, if it fits in 10 min)
#
# Same for fp32 (TF32 off: the DeepMAD paper's GPU-throughput setting). Everything is written under
# $OUT (the device tool's output folder; a second argument overrides it): the profile
# h100-torch-PREC-b256.json (and its .partial.json if the call is cut off: copy it to profiles/ and
# run `build` again to resume), PREC/validate.json, PREC/validate.png (where matplotlib imports;
# else `designer profile plot PREC/validate.json` draws it later) and a log. Each step prints
# its wall time. Copy the finished profile to profiles/ to ship it.
set -euo pipefail
cd "$(dirname "$0")/.."
step=${1:?usage: latency_h100.sh smoke|build|validate|all [fp16|fp32] [out-dir]}
precision=${2:-fp16}
out=${3:-${OUT:-out}}
mkdir -p "$out/$precision"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
designer() { python3 -m designer.cli "$@"; }
profile=h100-torch-$precision-b256
shipped=profiles/$profile.json
log=$out/$precision/log.txt

python3 -c "import numpy, scipy, tqdm, torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
python3 -c "import matplotlib" 2>/dev/null || echo "no matplotlib here: draw the PNGs later with designer profile plot PREC/validate.json"

timed() {
    local start=$SECONDS
    "$@" 2>&1 | tee -a "$log" | tr '\r' '\n' | grep -v '%|' || true
    echo "[$1 ${*:2:3}...] took $((SECONDS - start)) s" | tee -a "$log"
}

case $step in
smoke)
    timed python3 -m pytest -q tests/test_latency_backends.py -p no:cacheprovider
    timed designer profile --gpu h100 --backend torch --precision "$precision" --batch 64 --limit 40 \
        -o "$out/smoke-$precision.json"
    timed designer profile validate "$out/smoke-$precision.json" --nets 2 --output-dir "$out/$precision"
    ;;
build | all)
    # resume from a profile (or partial profile) already in profiles/, else start afresh in $out
    target=$out/$profile.json
    for previous in "$shipped" "profiles/$profile.partial.json"; do
        [[ -f $previous ]] && cp "$previous" "$out/$(basename "$previous")"
    done
    timed designer profile --gpu h100 --backend torch --precision "$precision" --batch 256 --resolution 224 -o "$target"
    if [[ $step == all ]]; then
        timed designer profile validate "$target" --nets 30 --output-dir "$out/$precision"
    fi
    ;;
validate)
    timed designer profile validate "$shipped" --nets 30 --output-dir "$out/$precision"
    ;;
*)
    echo "unknown step $step (smoke, build, validate or all)" >&2
    exit 2
    ;;
esac
