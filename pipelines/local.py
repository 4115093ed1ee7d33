"""Run the validation pipeline on this machine with kfp.local's SubprocessRunner.

This is the only way ``synthos validate`` runs the stages: the same DAG that is compiled for
the cluster, each task a subprocess of this interpreter (no container, no docker).
"""

from __future__ import annotations

import builtins
import contextlib
import glob
import io
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from synthos.errors import ERROR_FILE_ENV, SynthosInputError, read_recorded_errors

#: Task names as kfp names them in the compiled DAG -> what people read in progress lines.
TASK_LABELS = {
    "start-tracking": "start tracking",
    "load-dataset": "load synthetic",
    "load-dataset-2": "load reference",
    "align-schema": "align schema",
    "detect-collapse": "detect collapse",
    "prescreen": "prescreen",
    "plan-diversity-shards": "plan diversity shards",
    "sketch-shard": "sketch shard",
    "analyze-diversity": "analyze diversity",
    "localize-rows": "localize rows",
    "recommend-actions": "recommend actions",
    "write-report": "report",
    "finish-tracking": "finish tracking",
}

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_STARTED = re.compile(r"Executing task '([^']+)'")
_FINISHED = re.compile(r"Task '([^']+)' finished with status (\w+)")


class PipelineFailed(RuntimeError):
    """A stage failed for a reason other than bad input; ``log`` holds what it printed."""

    def __init__(self, message: str, log: str) -> None:
        super().__init__(message)
        self.log = log


@dataclass
class StageEvent:
    """A progress event: ``status`` is ``running``, ``SUCCESS`` or ``FAILURE``."""

    task: str
    label: str
    status: str
    elapsed_s: float


class _ProgressStream(io.TextIOBase):
    """Takes everything the local runner prints; keeps it, and turns task lines into events."""

    def __init__(self, on_event: Callable[[StageEvent], None]) -> None:
        self.on_event = on_event
        self.log = io.StringIO()
        self._pending = ""
        self._started: dict[str, float] = {}
        # ParallelFor iterations run on threads that print at the same time.
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self.log.write(text)
            self._pending += text
            *lines, self._pending = self._pending.split("\n")
        # Outside the lock: an event handler may print, and kfp routes print back here.
        for line in lines:
            self._line(_ANSI.sub("", line))
        return len(text)

    def _line(self, line: str) -> None:
        if m := _STARTED.search(line):
            task = m.group(1)
            self._started[task] = time.perf_counter()
            self.on_event(StageEvent(task, TASK_LABELS.get(task, task), "running", 0.0))
        elif m := _FINISHED.search(line):
            task = m.group(1)
            elapsed = time.perf_counter() - self._started.get(task, time.perf_counter())
            self.on_event(StageEvent(task, TASK_LABELS.get(task, task), m.group(2), elapsed))


@contextlib.contextmanager
def _error_file() -> Iterator[str]:
    fd, path = tempfile.mkstemp(prefix="synthos-errors-", suffix=".jsonl")
    os.close(fd)
    previous = os.environ.get(ERROR_FILE_ENV)
    os.environ[ERROR_FILE_ENV] = path  # inherited by every task subprocess
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop(ERROR_FILE_ENV, None)
        else:
            os.environ[ERROR_FILE_ENV] = previous
        os.unlink(path)


@contextlib.contextmanager
def _contained_runner_state() -> Iterator[None]:
    """Undo what kfp.local leaves behind in this process and on disk.

    It monkeypatches ``print`` and swaps the root logger's handlers while tasks run, and a
    ParallelFor thread can leave them changed; each task also leaves a ``tmp.*`` folder with
    its generated script in the temp dir.
    """
    root = logging.getLogger()
    saved = (builtins.print, root.level, root.handlers[:])
    pattern = os.path.join(tempfile.gettempdir(), "tmp.*", "ephemeral_component.py")
    before = set(glob.glob(pattern))
    try:
        with warnings.catch_warnings():
            # The runner warns that it ignores display names and that our image is not a
            # stock Python one; both are known and expected for local runs.
            warnings.filterwarnings("ignore", module=r"kfp\.local\..*")
            yield
    finally:
        builtins.print = saved[0]
        root.setLevel(saved[1])
        root.handlers[:] = saved[2]
        for script in set(glob.glob(pattern)) - before:
            shutil.rmtree(os.path.dirname(script), ignore_errors=True)


def run_validation(arguments: dict[str, Any], on_event: Callable[[StageEvent], None],
                   work_dir: str | None = None) -> None:
    """Run the validation pipeline locally with ``arguments`` (its parameters).

    Parameters
    ----------
    arguments : dict
        Pipeline parameters (see :func:`synthos_pipelines.validation.validation_pipeline`).
    on_event : callable
        Called with a :class:`StageEvent` as each task starts and ends.
    work_dir : str, optional
        The local pipeline root for KFP's artifacts; a temporary folder, removed afterwards,
        when not given.

    Raises
    ------
    SynthosInputError
        A stage found bad input; the message is the stage's own.
    PipelineFailed
        A stage failed otherwise; the exception carries the runner's whole log.
    """
    from kfp import local

    from synthos_pipelines.validation import validation_pipeline

    root = work_dir or tempfile.mkdtemp(prefix="synthos-kfp-")
    stream = _ProgressStream(on_event)
    try:
        with _error_file() as errors, _contained_runner_state():
            local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=root,
                       raise_on_error=True)
            try:
                with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
                    validation_pipeline(**arguments)
            except RuntimeError as err:
                recorded = read_recorded_errors(errors)
                if recorded:
                    raise recorded[0] from err
                raise PipelineFailed(str(_ANSI.sub("", str(err))), stream.log.getvalue()) \
                    from err
    finally:
        if work_dir is None:
            shutil.rmtree(root, ignore_errors=True)


__all__ = ["TASK_LABELS", "PipelineFailed", "StageEvent", "SynthosInputError", "run_validation"]
