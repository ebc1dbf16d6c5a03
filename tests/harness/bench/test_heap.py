"""The bench's heap release between trials."""

from __future__ import annotations

import psutil

from harness.bench.heap import release_freed_memory


def test_release_given_a_fragmented_heap_should_give_its_free_pages_back() -> None:
    chunks = [bytes(4000) + bytes([i % 256]) for i in range(60_000)]  # ~240 MB
    kept = chunks[::200]  # one in 200 stays: the heap cannot shrink from its top
    del chunks
    before_mb = psutil.Process().memory_info().rss / 2**20

    assert release_freed_memory()  # glibc on every machine we run on

    after_mb = psutil.Process().memory_info().rss / 2**20
    assert before_mb - after_mb > 100, (before_mb, after_mb)
    assert len(kept) == 300
