#!/usr/bin/env bash
# The tuning study of docs/tune/: Optuna over rho0 for a basic-block design at 32 px on
# Fashion-MNIST, at a measured-throughput target on this GPU (needs the GPU of the profile).
#
#   benchmarks/tune_fashion_mnist.sh DATA_DIR OUT_DIR [TRIALS]
#
# Settings as stored in the committed study (fmnist-basic-250k): fp16 H100 profile, target
# 250,000 images/s, rho0 log-uniform in [0.03, 0.6] (at 32 px a bound above ~0.5 no longer
# binds), 3 proxy epochs per trial; everything else at `designer tune`'s defaults. Rerunning
# the same command continues the study in OUT_DIR/tune.db.
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: $0 DATA_DIR OUT_DIR [TRIALS]" >&2
    exit 2
fi
data=$1
out=$2
trials=${3:-10}
mkdir -p "$out"
python -m designer.cli tune --family basic --resolution 32 --stages 4 --classes 10 \
    --target-throughput 250000 --profile h100-torch-fp16 --rho-range 0.03 0.6 --epochs 3 \
    --data "$data" --trials "$trials" --study fmnist-basic-250k \
    --storage "sqlite:///$out/tune.db" --out "$out/tune"
