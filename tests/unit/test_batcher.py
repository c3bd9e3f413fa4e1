"""The deadline batcher: routing under concurrency and every flush rule."""

import asyncio
import random
import threading

import pytest

from seedrl.learner.batcher import BatchFailed, DeadlineBatcher


def run(coroutine):
    return asyncio.run(coroutine)


def test_every_result_reaches_the_stream_that_asked_under_concurrency():
    """Many streams with random think times; each request is a (stream, seq, envs) tuple and
    the process function answers per env, so a misrouted or misordered result is caught."""
    batches = []

    def process(items):
        batches.append(sum(len(envs) for _, _, envs in items))
        return [[(stream, seq, env) for env in envs] for stream, seq, envs in items]

    async def stream(batcher, stream_id, rng):
        batcher.stream_opened()
        try:
            for seq in range(30):
                envs = list(range(rng.randint(1, 9)))
                result = await batcher.submit((stream_id, seq, envs), len(envs))
                assert result == [(stream_id, seq, env) for env in envs]
                await asyncio.sleep(rng.random() * 0.002)
        finally:
            batcher.stream_closed()

    async def main():
        batcher = DeadlineBatcher(process, max_batch_size=32, max_wait_s=0.005)
        batcher.start()
        rng = random.Random(0)
        await asyncio.gather(*(stream(batcher, s, random.Random(rng.random())) for s in range(40)))
        await batcher.close()

    run(main())
    assert sum(batches) > 0
    assert max(batches) <= 32 + 8  # one request may overshoot a batch that was empty
    assert len(batches) < 40 * 30  # requests were batched, not served one by one


def test_a_batch_flushes_at_the_deadline_when_other_streams_are_silent():
    async def main():
        batcher = DeadlineBatcher(lambda items: items, max_batch_size=100, max_wait_s=0.05)
        batcher.start()
        for _ in range(3):  # two more streams are open but never send
            batcher.stream_opened()
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await batcher.submit("a", 1) == "a"
        waited = loop.time() - started
        await batcher.close()
        return waited

    waited = run(main())
    assert 0.04 <= waited < 1.0


def test_a_batch_flushes_immediately_once_it_is_full():
    async def main():
        batcher = DeadlineBatcher(lambda items: items, max_batch_size=4, max_wait_s=10.0)
        batcher.start()
        for _ in range(10):
            batcher.stream_opened()
        results = await asyncio.wait_for(asyncio.gather(batcher.submit("a", 2), batcher.submit("b", 2)), 2.0)
        await batcher.close()
        return results

    assert run(main()) == ["a", "b"]


def test_a_batch_flushes_immediately_when_every_open_stream_is_waiting():
    async def main():
        batcher = DeadlineBatcher(lambda items: items, max_batch_size=1000, max_wait_s=10.0)
        batcher.start()
        batcher.stream_opened()
        batcher.stream_opened()
        results = await asyncio.wait_for(asyncio.gather(batcher.submit("a", 1), batcher.submit("b", 1)), 2.0)
        await batcher.close()
        return results

    assert run(main()) == ["a", "b"]


def test_a_cancelled_request_is_dropped_and_others_are_still_served():
    seen = []

    def process(items):
        seen.extend(items)
        return items

    async def main():
        batcher = DeadlineBatcher(process, max_batch_size=1000, max_wait_s=0.05)
        for _ in range(5):
            batcher.stream_opened()
        gone = asyncio.ensure_future(batcher.submit("gone", 1))
        await asyncio.sleep(0)
        gone.cancel()
        batcher.start()
        assert await batcher.submit("kept", 1) == "kept"
        await batcher.close()

    run(main())
    assert seen == ["kept"]


def test_a_failing_batch_fails_its_requests_only_and_the_batcher_keeps_the_error():
    def process(items):
        if "bad" in items:
            raise ValueError("boom")
        return items

    async def main():
        batcher = DeadlineBatcher(process, max_batch_size=1, max_wait_s=0.0)
        batcher.start()
        assert batcher.error is None and not batcher.failed.is_set()
        with pytest.raises(BatchFailed, match="ValueError: boom"):
            await batcher.submit("bad", 1)
        assert await batcher.submit("good", 1) == "good"
        assert isinstance(batcher.error, ValueError) and batcher.failed.is_set()
        await batcher.close()

    run(main())


def test_exclusive_work_never_overlaps_a_batch():
    inside = threading.Lock()
    overlaps = []

    def guarded(value):
        if not inside.acquire(blocking=False):
            overlaps.append(value)
            return value
        try:
            threading.Event().wait(0.001)
            return value
        finally:
            inside.release()

    async def main():
        batcher = DeadlineBatcher(lambda items: [guarded(i) for i in items], max_batch_size=4, max_wait_s=0.001)
        batcher.start()
        batcher.stream_opened()
        jobs = [batcher.submit(i, 1) for i in range(20)] + [batcher.run_exclusive(guarded, -i) for i in range(20)]
        await asyncio.gather(*jobs)
        await batcher.close()

    run(main())
    assert overlaps == []


@pytest.mark.parametrize("workers", [1, 2])
def test_with_two_workers_two_batches_are_processed_at_once(workers):
    """Each batch waits for a second batch to be in process at the same time: only two workers can serve both."""
    both_in_process = threading.Barrier(2, timeout=1.0)
    overlapped = []

    def process(items):
        try:
            both_in_process.wait()
            overlapped.append(True)
        except threading.BrokenBarrierError:
            overlapped.append(False)
        return items

    async def main():
        batcher = DeadlineBatcher(process, max_batch_size=1, max_wait_s=0.0, workers=workers)
        batcher.start()
        for _ in range(2):
            batcher.stream_opened()
        results = await asyncio.gather(batcher.submit("a", 1), batcher.submit("b", 1))
        await batcher.close()
        return results

    assert run(main()) == ["a", "b"]
    assert overlapped == ([True, True] if workers == 2 else [False, False])
