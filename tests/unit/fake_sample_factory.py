"""A stand-in for a Sample Factory run (`main`), for the peer runner's tests: Sample Factory itself needs its own
virtualenv and minutes of CPU. It starts a worker process, as Sample Factory's runner does, and logs in Sample
Factory's format every 0.2 s: 1,000 more frames and a mean return 100 higher each time (frames stop growing
after 3,000 when `--stall`). The worker's pid goes to the file named by $FAKE_SF_WORKER_PID."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    Path(os.environ["FAKE_SF_WORKER_PID"]).write_text(str(worker.pid))
    frames, reward = 0, 0.0
    while True:
        time.sleep(0.2)
        if "--stall" not in sys.argv or frames < 3000:
            frames += 1000
        reward += 100.0
        print(f"[2026-12-04 09:25:12,742][19737] Fps is (10 sec: 5000.0, 60 sec: 5000.0, 300 sec: 5000.0). "
              f"Total num frames: {frames}. Throughput: 0: 5000.0. Samples: {frames}. Policy #0 lag: (min: 0.0)",
              flush=True)
        print(f"[2026-12-04 09:25:12,742][19737] Avg episode reward: [(0, '{reward:.3f}')]", flush=True)
