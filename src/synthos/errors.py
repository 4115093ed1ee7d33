"""The one error type users see: bad input or bad usage, reported as one line."""

from __future__ import annotations

import json
import os

#: Environment variable naming a file where a stage records an input error before failing,
#: so the process that launched the pipeline can print the stage's own one-line message.
ERROR_FILE_ENV = "SYNTHOS_ERROR_FILE"


class SynthosInputError(Exception):
    """Bad input or bad usage.

    Parameters
    ----------
    source : str
        The file, URI or option the problem is about; it leads the message.
    problem : str
        What is wrong and, where it helps, what to do about it.
    """

    def __init__(self, source: str, problem: str) -> None:
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}")


def record_input_error(err: SynthosInputError) -> None:
    """Append ``err`` to the file named by ``$SYNTHOS_ERROR_FILE``, when that is set."""
    path = os.environ.get(ERROR_FILE_ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"source": err.source, "problem": err.problem}) + "\n")


def read_recorded_errors(path: str) -> list[SynthosInputError]:
    """The input errors that stages recorded in ``path`` (see :func:`record_input_error`)."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [SynthosInputError(r["source"], r["problem"]) for r in rows]
