"""Locations: local paths, ``file://``, ``s3://`` and ``gs://`` through fsspec.

Credentials come from each store's standard environment (``AWS_*`` or ``~/.aws`` for S3,
``GOOGLE_APPLICATION_CREDENTIALS`` or the metadata server for GCS); endpoints of emulators
and S3-compatible stores from ``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_S3`` and
``STORAGE_EMULATOR_HOST``.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import fsspec

from synthos.errors import SynthosInputError

#: URI schemes we read and write, mapped to the fsspec protocol that serves them.
SCHEMES = {"": "file", "file": "file", "s3": "s3", "gs": "gcs", "gcs": "gcs"}


@dataclass(frozen=True)
class Location:
    """A resolved location.

    Attributes
    ----------
    uri : str
        What the user wrote.
    protocol : str
        fsspec protocol: ``file``, ``s3`` or ``gcs``.
    path : str
        The path fsspec takes (``bucket/key`` for object stores, absolute for local files).
    """

    uri: str
    protocol: str
    path: str

    @property
    def is_local(self) -> bool:
        return self.protocol == "file"

    @property
    def name(self) -> str:
        return posixpath.basename(self.path.rstrip("/"))

    @property
    def bucket(self) -> str | None:
        return None if self.is_local else self.path.split("/", 1)[0]

    def filesystem(self) -> fsspec.AbstractFileSystem:
        return filesystem(self.protocol)

    def child(self, name: str) -> Location:
        """The location ``name`` inside this one (treated as a folder)."""
        if self.is_local:
            return Location(os.path.join(self.uri, name), "file", os.path.join(self.path, name))
        return Location(self.uri.rstrip("/") + "/" + name, self.protocol,
                        self.path.rstrip("/") + "/" + name)


def resolve(uri: str) -> Location:
    """Parse ``uri`` into a :class:`Location`; unsupported schemes are an input error."""
    if not uri:
        raise SynthosInputError("<empty>", "no path or URI given")
    scheme = urlsplit(uri).scheme.lower()
    # A Windows drive letter or a bare relative path has no scheme worth the name.
    if len(scheme) == 1:
        scheme = ""
    if scheme not in SCHEMES:
        raise SynthosInputError(
            uri, f"unsupported URI scheme '{scheme}://'; use a local path, file://, s3:// or gs://"
        )
    protocol = SCHEMES[scheme]
    if protocol == "file":
        path = uri[len("file://"):] if scheme == "file" else uri
        return Location(uri, "file", os.path.abspath(os.path.expanduser(path)))
    rest = uri.split("://", 1)[1]
    if not rest or rest.startswith("/"):
        raise SynthosInputError(uri, "object-store URI has no bucket; expected s3://BUCKET/KEY")
    return Location(uri, protocol, rest)


def storage_options(protocol: str) -> dict:
    """fsspec options taken from the standard environment of each store."""
    if protocol == "s3":
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        return {"client_kwargs": {"endpoint_url": endpoint}} if endpoint else {}
    if protocol == "gcs":
        emulator = os.environ.get("STORAGE_EMULATOR_HOST")
        # An emulator takes no credentials; without this gcsfs would look for Google ones.
        return {"endpoint_url": emulator, "token": "anon"} if emulator else {}
    return {}


def filesystem(protocol: str) -> fsspec.AbstractFileSystem:
    # skip_instance_cache: a cached instance would keep credentials and endpoints read from an
    # environment that may since have changed (tests, long-lived notebook sessions).
    return fsspec.filesystem(protocol, skip_instance_cache=True, **storage_options(protocol))


@contextlib.contextmanager
def store_errors(loc: Location, action: str = "read") -> Iterator[None]:
    """Turn the errors of file systems and object stores into one-line input errors."""
    try:
        yield
    except SynthosInputError:
        raise
    except FileNotFoundError as err:
        raise SynthosInputError(loc.uri, _not_found(loc, err)) from err
    except PermissionError as err:
        raise SynthosInputError(loc.uri, _denied(loc, action)) from err
    except IsADirectoryError as err:
        raise SynthosInputError(loc.uri, "is a directory, not a file") from err
    except OSError as err:
        text = str(err)
        if "AccessDenied" in text or "403" in text or "Forbidden" in text:
            raise SynthosInputError(loc.uri, _denied(loc, action)) from err
        if "NoSuchBucket" in text:
            raise SynthosInputError(loc.uri, f"bucket '{loc.bucket}' does not exist") from err
        raise SynthosInputError(loc.uri, f"cannot {action}: {_first_line(text)}") from err


def _not_found(loc: Location, err: Exception) -> str:
    if loc.is_local:
        return "no such file"
    text = str(err)
    if "NoSuchBucket" in text or ("bucket" in text.lower() and "not" in text.lower()):
        return f"bucket '{loc.bucket}' does not exist"
    with contextlib.suppress(Exception):
        if not loc.filesystem().exists(loc.bucket):
            return f"bucket '{loc.bucket}' does not exist"
    return "no such object"


def _denied(loc: Location, action: str) -> str:
    hint = {
        "file": "check the file's permissions",
        "s3": "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE and the bucket policy",
        "gcs": "check GOOGLE_APPLICATION_CREDENTIALS and the bucket's IAM roles",
    }[loc.protocol]
    return f"access denied when trying to {action} ({hint})"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"
