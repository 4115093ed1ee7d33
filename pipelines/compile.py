"""Compile the pipelines to KFP v2 IR YAML, the form the cluster and `kfp run create` take."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

COMPILED_DIR = Path(__file__).resolve().parent / "compiled"


def pipelines() -> dict:
    from synthos_pipelines.validation import validation_pipeline

    return {"validation": validation_pipeline}


def compile_all(out_dir: str | os.PathLike = COMPILED_DIR) -> list[Path]:
    """Compile every pipeline to ``out_dir/<name>.yaml``; return the paths written."""
    from kfp import compiler

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, func in pipelines().items():
        target = out / f"{name}.yaml"
        fd, tmp = tempfile.mkstemp(prefix=f".{name}-", suffix=".yaml", dir=out)
        os.close(fd)
        try:
            compiler.Compiler().compile(func, tmp)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        written.append(target)
    return written
