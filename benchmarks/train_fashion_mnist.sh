#!/usr/bin/env bash
# Design a small DeepMAD network for 32x32 inputs and train it on Fashion-MNIST (IDX files) for a
# few minutes on a GPU; evaluate the result. Writes OUT/arch.json, the run directory OUT/run
# (config.json, metrics.jsonl, curves.png, last.pt, best.pt) and OUT/eval.json.
#
#   benchmarks/train_fashion_mnist.sh DATA_DIR OUT_DIR [PROCESSES] [extra designer train flags]
#
# PROCESSES > 1 runs the same command under torchrun (one process per GPU); the global batch
# stays the same, so one and several processes follow the same recipe.
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: $0 DATA_DIR OUT_DIR [PROCESSES] [extra designer train flags]" >&2
    exit 2
fi
data=$1
out=$2
processes=${3:-1}
shift $(($# < 3 ? $# : 3))

designer=(python -m designer.cli)
launch=("${designer[@]}")
if ((processes > 1)); then
    launch=(torchrun --standalone --nproc-per-node "$processes" -m designer.cli)
fi

mkdir -p "$out"
"${designer[@]}" solve --family basic --resolution 32 --stages 4 --classes 10 --flops 150M --params 2M \
    --max-depth 6 -o "$out/arch.json"

# A short-schedule version of the recipe: 28x28 images need milder crops than ImageNet's, and a
# 20-epoch run more weight decay, no automatic policy and no mixing.
start=$(date +%s)
"${launch[@]}" train "$out/arch.json" --data "$data" --out "$out/run" \
    --epochs 20 --batch-size 512 --lr 0.2 --warmup-epochs 1 --weight-decay 5e-4 \
    --policy none --crop-scale 0.6 1 --mixup 0 --cutmix 0 --random-erasing 0.2 \
    "$@"
echo "training took $(($(date +%s) - start)) s"

"${designer[@]}" eval "$out/run" --data "$data" --json >"$out/eval.json"
cat "$out/eval.json"
