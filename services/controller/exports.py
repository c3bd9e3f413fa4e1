"""Exports of checkpoints to SavedModels as jobs, run on the controller's event loop.

An export is a `seedrl export` process (TensorFlow: seconds and hundreds of MB), so requests never
run one each: there is one job per checkpoint at most, and a second request for the same
checkpoint waits for that job. At most `concurrency` jobs run and `queue` more wait for a turn;
beyond that a request gets 429 with a Retry-After. A job nobody waits for any more is cancelled
(its process killed). While a job waits and runs, its checkpoint is pinned against the learner's
rotation (hard links in the exports folder). A finished export is kept, so a later request is
answered from disk. Waiting takes no thread: the requests await their job.
"""

from __future__ import annotations

import asyncio
import logging
import math
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable

from seedrl.common.checkpoint_files import pin_checkpoint
from seedrl.controller.runtimes.base import ExportPlan, NotFound, TooBusy
from seedrl.controller.runtimes.environment import child_environment

log = logging.getLogger(__name__)

# How long an export is taken to last until one has been timed here (seconds).
FIRST_GUESS_S = 15.0


class ExportFailed(RuntimeError):
    """The export process failed or ran out of time; the message says so without server paths."""


class ClientGone(RuntimeError):
    """The request that waited for an export went away first."""


@dataclass
class _Job:
    plan: ExportPlan
    task: asyncio.Task[Path]
    waiters: int = 0


class ExportJobs:
    """The export jobs of one controller (see the module docstring)."""

    def __init__(self, concurrency: int, queue: int, timeout_s: float):
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._limit = concurrency + queue
        self._timeout_s = timeout_s
        self._jobs: dict[Path, _Job] = {}
        self._typical_s = FIRST_GUESS_S

    @property
    def jobs(self) -> int:
        """Jobs running or waiting for a turn."""
        return len(self._jobs)

    def in_flight(self, experiment: str, checkpoint: str) -> ExportPlan | None:
        """The plan of the job running or queued for `checkpoint` of `experiment`, if any (it may have
        been rotated out since: its pinned files are what the job exports)."""
        return next((job.plan for job in self._jobs.values()
                     if (job.plan.experiment, job.plan.checkpoint) == (experiment, checkpoint)), None)

    async def export(self, plan: ExportPlan, gone: Awaitable[None]) -> Path:
        """The SavedModel folder of `plan`, exported by its job; `gone` completes if the requester leaves.

        Raises TooBusy when the queue is full, NotFound when the checkpoint is rotated out before it
        is pinned, ExportFailed when the export fails, ClientGone when `gone` completes first.
        """
        watch = asyncio.ensure_future(gone)
        try:
            if plan.out.is_dir():
                return plan.out
            job = self._jobs.get(plan.out) or self._start(plan)
            job.waiters += 1
            try:
                await asyncio.wait({job.task, watch}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                job.waiters -= 1
                if job.waiters == 0 and not job.task.done():
                    job.task.cancel()  # nobody waits for it any more
            if not job.task.done():
                raise ClientGone(f"the request for {plan.experiment}/{plan.checkpoint} went away")
            return job.task.result()
        finally:
            watch.cancel()

    def _start(self, plan: ExportPlan) -> _Job:
        if len(self._jobs) >= self._limit:
            turns = math.ceil((len(self._jobs) - self._concurrency + 1) / self._concurrency)
            raise TooBusy(f"{len(self._jobs)} exports are running or queued, the most this controller holds "
                          f"(--export-concurrency {self._concurrency}, --export-queue {self._limit - self._concurrency}); "
                          "try again later", retry_after_s=max(1, math.ceil(turns * self._typical_s)))
        pins = plan.out.with_name(f".{plan.out.name}.pinned")
        try:
            checkpoint = pin_checkpoint(plan.checkpoints, plan.checkpoint, pins)
        except FileNotFoundError:
            shutil.rmtree(pins, ignore_errors=True)
            raise NotFound(f"experiment {plan.experiment!r} has no checkpoint {plan.checkpoint!r} (rotated out?)") from None
        job = _Job(plan, asyncio.get_running_loop().create_task(self._run(plan, checkpoint, pins)))
        self._jobs[plan.out] = job
        job.task.add_done_callback(lambda _: self._jobs.pop(plan.out, None))
        return job

    async def _run(self, plan: ExportPlan, checkpoint: Path, pins: Path) -> Path:
        try:
            async with self._slots:
                return await self._export(plan, checkpoint)
        finally:
            shutil.rmtree(pins, ignore_errors=True)
            for partial in plan.out.parent.glob(f".{plan.out.name}.*.tmp"):  # what a killed export left
                shutil.rmtree(partial, ignore_errors=True)

    async def _export(self, plan: ExportPlan, checkpoint: Path) -> Path:
        plan.logs.parent.mkdir(parents=True, exist_ok=True)
        started = asyncio.get_running_loop().time()
        with open(plan.logs, "ab") as output:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "seedrl.cli", "export", "--config", str(plan.config),
                "--checkpoint", str(checkpoint), "--out", str(plan.out),
                stdin=asyncio.subprocess.DEVNULL, stdout=output, stderr=asyncio.subprocess.STDOUT,
                env=child_environment(), start_new_session=True,
            )
        try:
            code = await asyncio.wait_for(process.wait(), self._timeout_s)
        except asyncio.TimeoutError:
            raise ExportFailed(f"exporting {plan.experiment}/{plan.checkpoint} took over {self._timeout_s:.0f}s and "
                               "was ended") from None
        finally:
            if process.returncode is None:  # cancelled or timed out: end it
                process.kill()
                await process.wait()
        if code != 0 or not plan.out.is_dir():
            log.error("exporting %s/%s failed with exit code %s; its output is in %s",
                      plan.experiment, plan.checkpoint, code, plan.logs)
            raise ExportFailed(f"exporting {plan.experiment}/{plan.checkpoint} failed (exit code {code}); its output "
                               f"is in the experiment's run folder, logs/{plan.logs.name}")
        self._typical_s = 0.5 * self._typical_s + 0.5 * (asyncio.get_running_loop().time() - started)
        return plan.out

    async def close(self) -> None:
        """Cancel every job and wait until their processes are gone."""
        tasks = [job.task for job in self._jobs.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
