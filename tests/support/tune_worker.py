"""A tuning worker with a fake, fast trial runner, run as a process of its own by the tests:
``python -m support.tune_worker --storage URL --study NAME --trials N --out DIR [--seconds S]``.

Designs are solved for real (on the shipped CPU profile, tiny space); measuring returns the
predicted throughput and training sleeps ``--seconds`` over two reported epochs. Each trial
leaves ``DIR/trials/trial-NNNN/pid-<worker pid>`` so a test can tell which worker runs it.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from designer.core.request import DesignRequest
from designer.core.spec import ArchSpec
from designer.workflows.tune import Report, TuneConfig, tune
from latency.predict.cache import load_predictor

PROFILE = "cpu-ort-fp32"
REQUEST = DesignRequest(
    family="basic",
    profile=PROFILE,
    target_throughput=300.0,
    resolution=32,
    stages=3,
    kernel=(3,),
    max_width=48,
    max_depth=3,
    num_classes=4,
)


class FakeRunner:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.predictor = load_predictor(PROFILE)

    def measure(self, spec: ArchSpec) -> float:
        return self.predictor.throughput(spec)

    def train(self, spec: ArchSpec, trial_dir: Path, report: Report) -> float:
        trial_dir.mkdir(parents=True, exist_ok=True)
        (trial_dir / f"pid-{os.getpid()}").touch()
        accuracy = 1.0 - 1.0 / sum(stage.width * stage.depth for stage in spec.stages)
        for epoch in range(2):
            time.sleep(self.seconds / 2)
            report(epoch, accuracy * (epoch + 1) / 2)
        return accuracy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--storage", required=True)
    parser.add_argument("--study", required=True)
    parser.add_argument("--trials", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=0.2)
    parser.add_argument("--worker", type=int, default=0)
    parser.add_argument("--heartbeat", type=int, default=1)
    parser.add_argument("--grace", type=int, default=3)
    args = parser.parse_args()
    config = TuneConfig(
        REQUEST,
        args.study,
        args.storage,
        args.trials,
        args.out,
        heartbeat=args.heartbeat,
        grace=args.grace,
        worker=True,
    )
    runner = FakeRunner(args.seconds)
    tune(config, runner, runner.predictor)
    print(f"worker {args.worker} ({os.getpid()}) done, CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')}")


if __name__ == "__main__":
    main()
