"""Phrases rendered side by side: after a render's first piece, ``threads`` phrases at a time,
each on one intra-op thread.

The first phrase's first piece runs alone on every thread (the first audio as soon as it can
be); then renders are handed out in order, ``threads`` at a time (the first phrase's second
piece beside the next phrase, and so on); what does not fill the lanes runs on every thread.
The vocoder gains far less from a second thread inside one run than from two runs side by side
on a 2-core CPU; the samples are the same either way (tests).
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator

from inference.engines.base import RenderedPhrase

from .sessions import check_cancel

Task = tuple[Callable[[], list[RenderedPhrase]], Callable[[], list[RenderedPhrase]]]
"""(render in a lane on one thread, render on every thread): two ways to the same samples; the
same callable twice: pieces already rendered (the phrase cache), handed out in their turn."""


def _relay(cancel: threading.Event, stop: threading.Event) -> None:
    """Set ``stop`` when ``cancel`` is set; ends when ``stop`` is set."""
    while not stop.is_set():
        if cancel.wait(0.02):
            stop.set()


def side_by_side(first: Callable[[threading.Event], Iterator[RenderedPhrase]],
                 rest: Callable[[threading.Event], list[Task]], threads: int,
                 cancel: threading.Event | None) -> Iterator[RenderedPhrase]:
    """Yield the first piece of ``first(stop)``, then the pieces of ``rest(stop)``'s tasks
    (the first phrase's second piece among them) rendered ``threads`` at a time, in order.
    ``stop`` is set on cancel or when the consumer stops: every run ends within ~50 ms."""
    stop = threading.Event()
    relay = None
    if cancel is not None:
        relay = threading.Thread(target=_relay, args=(cancel, stop), name="kokoro-cancel-relay", daemon=True)
        relay.start()
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="kokoro-lane")

    def check() -> None:
        if cancel is not None and cancel.is_set():
            stop.set()
        check_cancel(cancel)

    try:
        lead = first(stop)
        piece = next(lead)
        yield piece
        tasks: list[Task] = [(lambda: list(lead), lambda: list(lead))] if piece.joins_next else []
        tasks += rest(stop)
        work = [i for i, (lane, whole) in enumerate(tasks) if lane is not whole]  # the others: nothing to render
        alone = set(work[len(work) - len(work) % threads:])  # what does not fill the lanes: on every thread
        futs = {i: pool.submit(tasks[i][0]) for i in work if i not in alone}
        for i, (_, whole) in enumerate(tasks):
            check()
            if i not in futs:
                yield from whole()
                continue
            while True:
                check()
                try:
                    pieces = futs[i].result(timeout=0.02)
                    break
                except TimeoutError:
                    continue
            yield from pieces
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        if relay is not None:
            relay.join()
