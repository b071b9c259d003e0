"""How many threads the numeric libraries of a process, or of one of its threads, may use.

Two pools do the heavy work: torch's intra-op pool (training, ``eigh``) and numpy's BLAS
(OpenBLAS: the Gram products of :mod:`rmt_gui.model.fast_spectrum`). Both are given the same
count, so that a worker leaving a core for the UI leaves it from both.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import cache

import torch
from threadpoolctl import ThreadpoolController


@cache
def _thread_pools() -> ThreadpoolController:
    """The process's BLAS and OpenMP thread pools (found once: the search walks every loaded
    library)."""
    return ThreadpoolController()


def set_threads(count: int) -> None:
    """Give torch's intra-op pool and numpy's BLAS ``count`` threads, for the whole process."""
    torch.set_num_threads(count)
    _thread_pools().limit(limits=count, user_api="blas")


def single_threaded() -> AbstractContextManager[object]:
    """numpy's BLAS and the calling thread's OpenMP (torch's LAPACK) held to one thread, for a
    ``with`` block on a helper thread.

    A new thread starts with OpenMP's default team, one thread per core: an ``eigvalsh`` on a
    niced helper would then spin a team member on the busy thread's core and wait at every
    barrier for it (3 s for a 50 ms spectrum snapshot, measured). OpenBLAS would likewise run
    the helper's products on every core.
    """
    return _thread_pools().limit(limits=1)
