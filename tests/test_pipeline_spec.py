"""The compiled pipeline spec: reproducible, and carrying what the local runner ignores."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from synthos.cli import main
from synthos_components.image import IMAGE
from synthos_pipelines.compile import COMPILED_DIR
from synthos_pipelines.local import TASK_LABELS

ROOT = Path(__file__).resolve().parents[1]


def test_committed_spec_equals_a_fresh_compile(tmp_path: Path, capsys) -> None:
    """`synthos compile` reproduces the committed YAML byte for byte."""
    assert main(["compile", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "validation.yaml")
    fresh = (tmp_path / "validation.yaml").read_bytes()
    committed = (COMPILED_DIR / "validation.yaml").read_bytes()
    assert fresh == committed, "run `synthos compile` and commit pipelines/compiled/"


def _spec() -> dict:
    return yaml.safe_load((COMPILED_DIR / "validation.yaml").read_text())


def _tasks(spec: dict) -> dict:
    """Every task that runs a container, at any depth (groups such as the exit handler and
    the ParallelFor are left out: they run nothing themselves)."""
    tasks = dict(spec["root"]["dag"]["tasks"])
    for comp in spec["components"].values():
        tasks.update(comp.get("dag", {}).get("tasks", {}))
    groups = {name for name, comp in spec["components"].items() if "dag" in comp}
    return {k: v for k, v in tasks.items() if v["componentRef"]["name"] not in groups}


def test_every_task_has_caching_off() -> None:
    """Every stage logs to MLflow or publishes files: none may be served from the cache."""
    tasks = _tasks(_spec())
    assert len(tasks) == 13
    for name, task in tasks.items():
        # KFP writes an empty cachingOptions for "off"; {enableCache: true} when on.
        assert task["cachingOptions"] == {}, name


def test_every_executor_runs_our_pinned_image() -> None:
    """One image everywhere, with an immutable version tag, and no kfp install at runtime."""
    executors = _spec()["deploymentSpec"]["executors"]
    assert len(executors) == 13  # the two loads are separate executors
    for name, spec in executors.items():
        container = spec["container"]
        assert container["image"] == IMAGE, name
        assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+", container["image"]), name
        assert "pip install" not in " ".join(container["command"]), name


def test_progress_labels_cover_the_dag() -> None:
    """The local progress lines name every task of the compiled DAG, and nothing else."""
    assert set(_tasks(_spec())) == set(TASK_LABELS)


def test_diversity_fans_out_over_shards_and_merges_once() -> None:
    """The sketch task runs inside a ParallelFor over the planned shards, and one analysis
    task takes all of their states (dsl.Collected)."""
    spec = _spec()
    loop = spec["root"]["dag"]["tasks"]["exit-handler-1"]
    handler = spec["components"][loop["componentRef"]["name"]]["dag"]["tasks"]
    name, fan = next((k, t) for k, t in handler.items() if "parameterIterator" in t)
    assert fan["parameterIterator"]["items"]["inputParameter"].endswith(
        "plan-diversity-shards-Output")
    body = spec["components"][fan["componentRef"]["name"]]["dag"]["tasks"]
    assert set(body) == {"sketch-shard"}
    states = handler["analyze-diversity"]["inputs"]["artifacts"]["states"]
    assert states["taskOutputArtifact"]["producerTask"] == name


def test_dockerfile_builds_the_image_the_components_name() -> None:
    dockerfile = (ROOT / "images" / "Dockerfile").read_text()
    assert f"-t {IMAGE} ." in dockerfile
    for package in ("src", "components", "pipelines"):
        assert f"COPY {package} ./{package}" in dockerfile
    assert "torch==2.13.0" in dockerfile
