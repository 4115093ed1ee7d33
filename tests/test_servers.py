"""The servers in tests/servers.py work for real clients configured only through env vars."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

# tests/ has no __init__.py, so pytest's default (prepend) import mode puts tests/ itself on
# sys.path: the helper imports as a top-level module whatever the working directory.
from servers import (
    GCSServer,
    S3Server,
    gcs_server,
    isolated_env,
    mlflow_server,
    s3_server,
)

# Runs in a fresh interpreter so that only the environment configures fsspec: no in-process
# filesystem instance, config or cached credentials can leak in from the test process.
_FSSPEC_CLIENT = """
import json, sys
import fsspec

results = []
for op, url, *data in json.loads(sys.argv[1]):
    try:
        if op == "write":
            with fsspec.open(url, "wb") as f:
                f.write(data[0].encode())
            value = None
        elif op == "read":
            with fsspec.open(url, "rb") as f:
                value = f.read().decode()
        elif op == "ls":
            fs, path = fsspec.url_to_fs(url)
            value = sorted(fs.ls(path, detail=False))
        else:
            raise ValueError(op)
        results.append({"value": value})
    except Exception as exc:
        # s3fs keeps botocore's ClientError as __cause__; its code says which check fired.
        response = getattr(exc.__cause__, "response", None) or {}
        results.append({
            "error": [cls.__name__ for cls in type(exc).__mro__],
            "code": response.get("Error", {}).get("Code"),
        })
print(json.dumps(results))
"""


def run_fsspec(env: Mapping[str, str], ops: list[list[str]], timeout: float = 120) -> list[Any]:
    proc = subprocess.run(
        [sys.executable, "-c", _FSSPEC_CLIENT, json.dumps(ops)],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    results: list[Any] = json.loads(proc.stdout)
    return results


def raised(result: Mapping[str, Any]) -> str:
    """The exception type a client op raised (its builtin base, checked via the MRO)."""
    assert "error" in result, f"expected an error, got {result}"
    return str(result["error"][0])


# Module scope: both servers start in well under a second, but each test would otherwise pay
# for it, and the tests use distinct bucket names so they cannot interfere.
@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture(scope="module")
def s3_auth() -> Iterator[S3Server]:
    with s3_server(auth=True) as server:
        server.create_bucket("guarded")
        yield server


@pytest.fixture(scope="module")
def gcs() -> Iterator[GCSServer]:
    with gcs_server() as server:
        yield server


@pytest.mark.parametrize("scheme", ["s3", "gs"])
def test_roundtrip_and_missing_paths_from_env_only(
    scheme: str, s3: S3Server, gcs: GCSServer, tmp_path: Path
) -> None:
    server: S3Server | GCSServer = s3 if scheme == "s3" else gcs
    server.create_bucket("roundtrip")
    base = f"{scheme}://roundtrip"

    write, read, listing, missing_key, missing_bucket_read, missing_bucket_ls = run_fsspec(
        isolated_env(tmp_path, server.env),
        [
            ["write", f"{base}/dir/obj.txt", "hello"],
            ["read", f"{base}/dir/obj.txt"],
            ["ls", f"{base}/dir"],
            ["read", f"{base}/dir/absent.txt"],
            ["read", f"{scheme}://no-such-bucket/obj.txt"],
            ["ls", f"{scheme}://no-such-bucket"],
        ],
    )

    assert write == {"value": None}
    assert read == {"value": "hello"}
    assert listing == {"value": ["roundtrip/dir/obj.txt"]}
    assert raised(missing_key) == "FileNotFoundError"
    assert raised(missing_bucket_read) == "FileNotFoundError"
    assert raised(missing_bucket_ls) == "FileNotFoundError"


def test_s3_auth_server_accepts_issued_key(s3_auth: S3Server, tmp_path: Path) -> None:
    write, read = run_fsspec(
        isolated_env(tmp_path, s3_auth.env),
        [["write", "s3://guarded/ok.txt", "secret"], ["read", "s3://guarded/ok.txt"]],
    )
    assert write == {"value": None}
    assert read == {"value": "secret"}


@pytest.mark.parametrize(
    ("credential", "error_code"),
    [
        ("bad_secret_env", "SignatureDoesNotMatch"),
        ("unknown_key_env", "InvalidAccessKeyId"),
        ("denied_env", "AccessDenied"),
    ],
)
def test_s3_auth_server_refuses_bad_credentials(
    credential: str, error_code: str, s3_auth: S3Server, tmp_path: Path
) -> None:
    env = getattr(s3_auth, credential)
    results = run_fsspec(
        isolated_env(tmp_path, env),
        [
            ["write", "s3://guarded/denied.txt", "nope"],
            ["ls", "s3://guarded"],
            # Reads start with HeadObject, whose 403 has no body: s3fs only sees "403"
            # (still PermissionError), never the error code.
            ["read", "s3://guarded/denied.txt"],
        ],
    )

    assert [raised(r) for r in results] == ["PermissionError"] * 3, results
    assert [r["code"] for r in results] == [error_code, error_code, "403"]


def test_bad_credential_envs_need_an_auth_server(s3: S3Server) -> None:
    with pytest.raises(ValueError, match="auth=True"):
        _ = s3.bad_secret_env


def test_mlflow_server_tracks_runs_and_serves_artifacts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before the import: importing mlflow starts its telemetry client, which fetches a remote
    # config. Only effective if nothing imported mlflow earlier; conftest is the better place.
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    artifact = tmp_path / "report.txt"
    artifact.write_text("all good\n")

    with mlflow_server(tmp_path / "mlflow") as server:
        client = mlflow.MlflowClient(server.uri)
        experiment_id = client.create_experiment("servers-smoke")
        run_id = client.create_run(experiment_id).info.run_id
        client.log_metric(run_id, "loss", 0.25)
        client.log_artifact(run_id, str(artifact))
        client.set_terminated(run_id)

        # search_runs has no tracking_uri parameter; the env var keeps mlflow's global
        # tracking URI unset for other tests.
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)
        runs = mlflow.search_runs(experiment_ids=[experiment_id], output_format="list")

        assert [run.info.run_id for run in runs] == [run_id]
        assert runs[0].data.metrics == {"loss": 0.25}
        assert [a.path for a in client.list_artifacts(run_id)] == ["report.txt"]
        # Uploaded over HTTP and stored by the server under the artifact root we gave it.
        stored = list(server.artifacts_dir.rglob("report.txt"))
        assert [p.read_text() for p in stored] == ["all good\n"]
