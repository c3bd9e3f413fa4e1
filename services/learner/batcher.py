"""Dynamic batching with a deadline, on the learner's event loop.

Requests from many streams wait in one FIFO. A batch is flushed as soon as any of:
  * `max_batch_size` environments are waiting;
  * every open stream has a request waiting (nothing more can arrive);
  * the oldest request has waited `max_wait_s`.
SEED's fixed-size batch stalls when actors die; this one never waits past the
deadline. Up to `workers` batches are processed at a time, each on a worker thread
(one per inference device); with one worker, state owned by the processing function
needs no locks. `run_exclusive` runs other work (leasing and releasing slots) on the
workers' pool; with one worker it never runs during a batch.

A batch whose processing raises fails every request in it with `BatchFailed`, and the
batcher keeps the first such error in `error` for its owner to act on (the learner stops:
a failing model call is not something the next batch recovers from).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, TypeVar

from seedrl.learner.unroll_queue import QueueClosed

Request = TypeVar("Request")
Result = TypeVar("Result")

log = logging.getLogger(__name__)


class BatchFailed(RuntimeError):
    """Processing the batch a request was in raised; the message names the original error."""


@dataclass
class _Pending(Generic[Request, Result]):
    item: Request
    size: int
    arrival: float
    future: asyncio.Future = field(repr=False)


class DeadlineBatcher(Generic[Request, Result]):
    """Collects requests into batches for `process(list[Request]) -> list[Result]`."""

    def __init__(
        self,
        process: Callable[[list[Request]], list[Result]],
        max_batch_size: int,
        max_wait_s: float,
        workers: int = 1,
    ):
        self._process = process
        self._max_batch_size = max_batch_size
        self._max_wait_s = max_wait_s
        self._pending: collections.deque[_Pending] = collections.deque()
        self._pending_size = 0
        self._open_streams = 0
        self._wake = asyncio.Event()
        self._executor = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="inference")
        self._workers = workers
        self._free_workers = asyncio.Semaphore(workers)
        self._task: asyncio.Task | None = None
        self._batches: set[asyncio.Task] = set()
        self.error: BaseException | None = None  # the first failure of a batch
        self.failed = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="batcher")

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, *self._batches, return_exceptions=True)
        for pending in self._pending:
            if not pending.future.done():
                pending.future.cancel()
        self._executor.shutdown(wait=True)

    def stream_opened(self) -> None:
        self._open_streams += 1

    def stream_closed(self) -> None:
        self._open_streams -= 1
        self._wake.set()  # the streams still open may now all be waiting

    async def submit(self, item: Request, size: int) -> Result:
        """Queue a request of `size` environments and wait for its result."""
        loop = asyncio.get_running_loop()
        pending = _Pending(item, size, loop.time(), loop.create_future())
        self._pending.append(pending)
        self._pending_size += size
        self._wake.set()
        return await pending.future

    async def run_exclusive(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run `function(*args)` on the batch thread, never during a batch."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _ready(self) -> bool:
        return self._pending_size >= self._max_batch_size or len(self._pending) >= self._open_streams

    def _take(self) -> list[_Pending]:
        batch, size = [], 0
        while self._pending:
            pending = self._pending[0]
            if batch and size + pending.size > self._max_batch_size:
                break
            self._pending.popleft()
            self._pending_size -= pending.size
            if not pending.future.done():  # skip requests whose stream went away
                batch.append(pending)
                size += pending.size
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            deadline = self._pending[0].arrival + self._max_wait_s
            while not self._ready():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), remaining)
                except TimeoutError:
                    break
            if self._workers == 1:  # one batch at a time, served inline
                batch = self._take()
                if batch:
                    await self._serve(batch)
                continue
            await self._free_workers.acquire()
            batch = self._take()
            if not batch:
                self._free_workers.release()
                continue
            task = loop.create_task(self._serve(batch))
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)

    async def _serve(self, batch: list[_Pending]) -> None:
        """Process one batch on a worker and hand each request its result."""
        try:
            results = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._process, [p.item for p in batch]
            )
        except QueueClosed:  # shutting down: the streams are ending anyway
            for pending in batch:
                pending.future.cancel()
            return
        except Exception as error:  # noqa: BLE001 - handed to every waiting stream
            log.exception("inference batch failed")
            if self.error is None:
                self.error = error
                self.failed.set()
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(BatchFailed(f"{type(error).__name__}: {error}"))
            return
        finally:
            if self._workers > 1:
                self._free_workers.release()
        for pending, result in zip(batch, results):
            if not pending.future.done():
                pending.future.set_result(result)
