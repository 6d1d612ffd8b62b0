"""Worker processes that exit when their parent dies (no orphans after SIGKILL or SIGTERM).

Why: replicate and study workers (ProcessPoolExecutor) and sweep jobs (joblib's loky
workers under Hydra) are separate processes. When the ``gcm-sim`` parent is killed
outright, nothing tells them: they would compute, unobserved, for minutes, holding
memory. Each worker calls :func:`die_with_parent` once when it starts; a daemon
thread then checks every ``INTERVAL`` seconds whether its parent is still the one it
started under (``os.getppid()`` changes when the parent dies and the child is
re-parented to init or a subreaper) and, if not, ends the worker at once with
``os._exit``. On Linux the kernel is also asked to send SIGKILL when the parent exits
(``prctl(PR_SET_PDEATHSIG)``), which acts within milliseconds; the thread covers
the cases the prctl does not (other systems, a parent that died before the call).
Worst-case delay is ``INTERVAL`` plus the longest stretch a NumPy call holds the GIL.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

INTERVAL = 0.5  # seconds between checks of the parent
EXIT_ORPHANED = 70
_started: set[int] = set()  # pids that already have a watchdog (fork copies this set, hence per pid)


def _pdeathsig() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the watchdog thread is enough
        pass


def die_with_parent(parent: int | None = None, kernel: bool = True) -> None:
    """Make this process exit when ``parent`` (default: the current parent) is gone. Idempotent.

    ``kernel=False`` skips the prctl: Linux sends its signal when the *thread* that
    started the process exits, so use it only where the pool's main thread starts the
    workers (ProcessPoolExecutor with fork); loky starts them from a helper thread.
    """
    pid = os.getpid()
    if pid in _started:
        return
    _started.add(pid)
    ppid = os.getppid() if parent is None else parent
    if ppid <= 1:  # already orphaned
        os._exit(EXIT_ORPHANED)
    if kernel:
        _pdeathsig()
    if os.getppid() != ppid:  # the parent died before the prctl took effect
        os._exit(EXIT_ORPHANED)

    def watch() -> None:
        stop = threading.Event()
        while not stop.wait(INTERVAL):
            if os.getppid() != ppid:
                os._exit(EXIT_ORPHANED)

    threading.Thread(target=watch, name="gcm-sim-lifeline", daemon=True).start()
