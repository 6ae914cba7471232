#!/usr/bin/env bash
# Build and validate a GPU's shipped torch profiles (batch 256, 224x224) on that GPU, resumably, in
# calls of at most ten minutes (the device tool's limit). Generalises the H100 runs to any GPU name.
#
#   bash benchmarks/latency_gpu.sh GPU [STEP] [PRECISION...]
#
#   bash benchmarks/latency_gpu.sh h200                # = ship fp16 fp32: build each profile (resuming), then
#                                                      #   validate it on 30 random nets; run the same command
#                                                      #   again until it prints "all done" (~3 calls on an H100)
#   bash benchmarks/latency_gpu.sh h200 smoke fp16     # ~1 min: GPU tests, a 40-op trial of `designer profile
#                                                      #   --gpu h200` (prints the backend and batch it chooses
#                                                      #   here), a 2-net validate
#   bash benchmarks/latency_gpu.sh h200 build fp32     # build (or resume) only
#   bash benchmarks/latency_gpu.sh h200 validate fp32  # validate only (30 random nets + ResNet-50 + MobileNetV2)
#   bash benchmarks/latency_gpu.sh h200 card           # the design card as typed: `designer profile --gpu h200`,
#                                                      #   then `designer solve --target-throughput 8000`
#
# fp16 times the dense grid (2,539 ops, ~9.5 min on an H100), fp32 (TF32 off: the DeepMAD paper's
# setting) the sparse one (1,735 ops, ~7.5 min). Work goes to out/GPU/ (ignored by git, so it stays
# on a warm device machine from one call to the next; on a cold one, carry out/GPU back). Each call
# stops building BUDGET seconds (default 540) after it starts, saving the partial profile, and
# copies out/GPU/ to $OUT: GPU-torch-PREC-b256.json (ship it in profiles/), PREC/validate.json and
# .png (docs/GPU/validate-PREC.*), card.txt and log.txt. `card` resumes `designer profile --gpu GPU`
# from the fp32 profile already built here when its defaults (torch, fp32, batch 256) name that
# profile, so it reruns nothing; `designer solve` then uses it as the most recent profile.
set -euo pipefail
cd "$(dirname "$0")/.."
gpu=${1:?usage: latency_gpu.sh GPU [ship|smoke|build|validate|card] [PRECISION...]}
step=${2:-ship}
shift $(($# < 2 ? $# : 2))
precisions=("${@:-fp16}")
[[ $step == ship && $# == 0 ]] && precisions=(fp16 fp32)
budget=${BUDGET:-540}
validate_s=${VALIDATE_S:-240}
work=out/$gpu
mkdir -p "$work"
log=$work/log.txt
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
designer=(python3 -m designer.cli)

left() { echo $((budget - SECONDS)); }

run_for() { # run_for SECONDS COMMAND...: the command under a deadline (SIGINT: a build saves its partial
    # profile); its status (124: the deadline passed)
    local seconds=$1 start=$SECONDS status shown
    shift
    ((seconds > 0)) || return 124
    shown="$*"
    echo "\$ ${shown/#python3 -m designer.cli/designer}" | tee -a "$log"
    set +o errexit
    timeout -s INT -k 30 "$seconds" "$@" 2>&1 | tee -a "$log" | tr '\r' '\n' | grep -v '%|'
    status=${PIPESTATUS[0]}
    set -o errexit
    echo "[took $((SECONDS - start)) s, status $status]" | tee -a "$log"
    return "$status"
}

finish() { # copy the work folder to the device tool's output folder
    if [[ -n ${OUT:-} && -d $OUT ]]; then cp -r "$work/." "$OUT/"; fi
    exit "${1:-0}"
}

profile_of() { echo "$gpu-torch-$1-b256"; }

build() { # build PREC: resume or start the profile; 0 when it is complete
    local name
    name=$(profile_of "$1")
    if [[ -f $work/$name.json && ! -f $work/$name.partial.json ]]; then
        echo "$name: complete" | tee -a "$log"
        return 0
    fi
    run_for "$(($(left) - 10))" "${designer[@]}" profile --gpu "$gpu" --backend torch --precision "$1" --batch 256 \
        --resolution 224 -o "$work/$name.json"
}

validate() { # validate PREC: 30 random nets + ResNet-50 + MobileNetV2, against the bars (median <= 3 %, worst <= 8 %)
    mkdir -p "$work/$1"
    run_for "$(($(left) - 5))" "${designer[@]}" profile validate "$work/$(profile_of "$1").json" --nets 30 \
        --output-dir "$work/$1" || return
    python3 - "$work/$1/validate.json" <<'PY' | tee -a "$log"
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
ok = s["median_abs_error"] <= 0.03 and s["max_abs_error"] <= 0.08
print(f"{sys.argv[1]}: median {s['median_abs_error']:.2%}, worst {s['max_abs_error']:.2%}: "
      + ("meets the bars (<= 3 %, <= 8 %)" if ok else "MISSES the bars (<= 3 %, <= 8 %)"))
PY
}

stopped() { # stopped STATUS WHAT: the deadline passed (run again) or a failure
    if (($1 == 124)); then
        echo "$2 stopped at this call's deadline: run the same command again to continue" | tee -a "$log"
        finish 0
    fi
    echo "$2 failed (status $1); see $log" | tee -a "$log"
    finish 1
}

python3 -c "import numpy, scipy, tqdm, torch; print('torch', torch.__version__, torch.cuda.get_device_name())" | tee -a "$log"
python3 -c "import matplotlib" 2>/dev/null || echo "no matplotlib here: draw the PNGs later with designer profile plot PREC/validate.json"

case $step in
ship)
    for precision in "${precisions[@]}"; do
        build "$precision" || stopped $? "building $(profile_of "$precision")"
        if [[ ! -f $work/$precision/validate.json ]]; then
            if (($(left) < validate_s)); then
                echo "$(left) s left and validation takes up to ${validate_s} s: run the same command again"
                finish
            fi
            validate "$precision" || stopped $? "validating $(profile_of "$precision")"
        fi
    done
    echo "all done: ship $(for p in "${precisions[@]}"; do printf '%s ' "$work/$(profile_of "$p").json"; done)in profiles/"
    ;;
smoke)
    run_for "$(left)" python3 -m pytest -q tests/test_latency_backends.py -p no:cacheprovider
    run_for "$(left)" "${designer[@]}" profile --gpu "$gpu" --precision "${precisions[0]}" --limit 40 -o "$work/smoke.json"
    run_for "$(left)" "${designer[@]}" profile validate "$work/smoke.json" --nets 2 --output-dir "$work/smoke"
    ;;
build)
    for precision in "${precisions[@]}"; do build "$precision" || stopped $? "building $(profile_of "$precision")"; done
    ;;
validate)
    for precision in "${precisions[@]}"; do validate "$precision" || stopped $? "validating $(profile_of "$precision")"; done
    ;;
card)
    users=$(python3 -c "from latency.predict.profiles import user_dir; print(user_dir())")
    built=$work/$(profile_of fp32).json
    if [[ -f $built && ! -f $work/$(profile_of fp32).partial.json ]]; then
        mkdir -p "$users" && cp "$built" "$users/"
    fi
    {
        run_for "$(($(left) - 60))" "${designer[@]}" profile --gpu "$gpu"
        run_for "$(left)" "${designer[@]}" solve --target-throughput 8000
    } 2>&1 | tee "$work/card.txt"
    ;;
*)
    echo "unknown step $step (ship, smoke, build, validate or card)" >&2
    exit 2
    ;;
esac
finish
