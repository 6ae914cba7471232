#!/usr/bin/env bash
# Build and validate a GPU's shipped torch profiles (batch 256, 224x224) on that GPU, resumably, in
# calls of at most ten minutes (the device tool's limit). Generalises the H100 runs to any GPU name.
#
#   bash benchmarks/latency_gpu.sh GPU [STEP] [PRECISION...]
#
#   bash benchmarks/latency_gpu.sh h200                # = ship fp16 fp32: build each profile (resuming), validate
#                                                      #   it on 30 random nets, then run `card`; run the same
#                                                      #   command again until it prints "all done"
#   bash benchmarks/latency_gpu.sh h200 smoke fp16     # ~1 min: GPU tests, a 40-op trial of `designer profile
#                                                      #   --gpu h200` (prints the backend and batch it chooses
#                                                      #   here), a 2-net validate
#   bash benchmarks/latency_gpu.sh h200 build fp32     # build (or resume) only
#   bash benchmarks/latency_gpu.sh h200 validate fp32  # validate only (30 random nets + ResNet-50 + MobileNetV2)
#   bash benchmarks/latency_gpu.sh h200 card           # the design card as typed: `designer profile --gpu h200`,
#                                                      #   then `designer solve --target-throughput 8000`
#
# fp16 times the dense grid (6,127 ops: 549 s on the H200 from scratch in one call), fp32 (TF32 off: the
# DeepMAD paper's setting) the sparse one (4,372 ops at batch 256; the shipped table took 1,153 s of H200
# time over five calls as the grid grew); validating takes 1.5 min more in fp16, over 4.5 in fp32 (a
# validation cut short resumes, one network at a time). With one GPU `ship` takes five calls;
# with two or more (nvidia-h200-x2) the precisions run side by side, one GPU each, and it takes
# three. Work goes to out/GPU/ (ignored by git, so it stays on a warm device machine from one call
# to the next; on a cold one, carry out/GPU back). Each call stops BUDGET
# seconds (default 540) after it starts (SIGINT: a build saves its partial profile) and copies
# out/GPU/ to $OUT: GPU-torch-PREC-b256.json (ship it in profiles/), PREC/validate.json and .png
# (docs/GPU/validate-PREC.*), card.txt and the logs. `card` copies the fp32 profile built here
# into the user profile folder first: `designer profile --gpu GPU` then resumes it (its defaults,
# torch, fp32 and batch 256 where TensorRT does not import, name that profile) instead of timing
# it again, and `designer solve` uses it as the profile most recently built here.
set -euo pipefail
cd "$(dirname "$0")/.."
gpu=${1:?usage: latency_gpu.sh GPU [ship|smoke|build|validate|card] [PRECISION...]}
step=${2:-ship}
shift $(($# < 2 ? $# : 2))
precisions=("$@")
((${#precisions[@]})) || { [[ $step == ship ]] && precisions=(fp16 fp32) || precisions=(fp16); }
budget=${BUDGET:-540}
validate_s=${VALIDATE_S:-60} # a validation resumes: start one whenever a minute is left
work=out/$gpu
mkdir -p "$work"
log=$work/log.txt
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
designer=(python3 -m designer.cli)

left() { echo $((budget - SECONDS)); }

run_for() { # run_for SECONDS COMMAND...: the command under a deadline; its status (124: the deadline passed)
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

profile_of() { echo "$gpu-torch-$1-b256"; }

build() { # build PREC: resume or start the profile; 0 once it is complete
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

chain() { # chain PREC: build, then validate unless done; 0 when both are, 124 when the deadline comes first
    build "$1" || return
    [[ -f $work/$1/validate.json ]] && return 0
    (($(left) >= validate_s)) || { echo "$(left) s left, under the $validate_s s a validation starts with" | tee -a "$log"; return 124; }
    validate "$1"
}

card() {
    local users built
    users=$(python3 -c "from latency.predict.profiles import user_dir; print(user_dir())")
    built=$work/$(profile_of fp32).json
    if [[ -f $built && ! -f $work/$(profile_of fp32).partial.json ]]; then
        mkdir -p "$users" && cp "$built" "$users/"
    fi
    {
        run_for "$(($(left) - 60))" "${designer[@]}" profile --gpu "$gpu"
        run_for "$(left)" "${designer[@]}" solve --target-throughput 8000
    } 2>&1 | tee "$work/card.txt"
}

finish() { # finish STATUS [WHAT]: copy the work folder to the device tool's output folder and say what is next
    if [[ -n ${OUT:-} && -d $OUT ]]; then cp -r "$work/." "$OUT/"; fi
    case $1 in
    0) ;;
    124) echo "${2:-this step} stopped at this call's deadline: run the same command again to continue" ;;
    *) echo "${2:-this step} failed (status $1); see the logs in $work" ;;
    esac
    exit $(($1 == 124 ? 0 : $1))
}

gpus=$(python3 -c "import numpy, scipy, tqdm, torch; print(torch.cuda.device_count())")
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(), 'x', torch.cuda.device_count())" |
    tee -a "$log"
python3 -c "import matplotlib" 2>/dev/null || echo "no matplotlib here: draw the PNGs later with designer profile plot PREC/validate.json"

case $step in
ship)
    status=0
    if ((gpus >= ${#precisions[@]} && ${#precisions[@]} > 1)); then
        pids=()
        for index in "${!precisions[@]}"; do
            precision=${precisions[$index]}
            (
                export CUDA_VISIBLE_DEVICES=$index
                log=$work/log-$precision.txt
                chain "$precision"
            ) &
            pids+=($!)
        done
        for pid in "${pids[@]}"; do # a failure outranks the deadline, the deadline success
            code=0
            wait "$pid" || code=$?
            if ((code != 0 && code != 124)); then status=$code; elif ((code == 124 && status == 0)); then status=124; fi
        done
    else
        for precision in "${precisions[@]}"; do chain "$precision" || { status=$?; break; }; done
    fi
    ((status == 0)) || finish "$status" "ship"
    if [[ " ${precisions[*]} " == *" fp32 "* ]]; then
        (($(left) >= 120)) || finish 124 "card (the profiles are done)"
        card
    fi
    echo "all done: ship $(for p in "${precisions[@]}"; do printf '%s ' "$work/$(profile_of "$p").json"; done)in profiles/"
    ;;
smoke)
    run_for "$(left)" python3 -m pytest -q tests/test_latency_backends.py -p no:cacheprovider
    run_for "$(left)" "${designer[@]}" profile --gpu "$gpu" --precision "${precisions[0]}" --limit 40 -o "$work/smoke.json"
    run_for "$(left)" "${designer[@]}" profile validate "$work/smoke.json" --nets 2 --output-dir "$work/smoke"
    ;;
build)
    for precision in "${precisions[@]}"; do build "$precision" || finish $? "building $(profile_of "$precision")"; done
    ;;
validate)
    for precision in "${precisions[@]}"; do validate "$precision" || finish $? "validating $(profile_of "$precision")"; done
    ;;
card)
    card
    ;;
*)
    echo "unknown step $step (ship, smoke, build, validate or card)" >&2
    exit 2
    ;;
esac
finish 0
