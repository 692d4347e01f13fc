"""Where the gate's tasks hand files to one another: a local folder, or a URL.

The tasks of ``pretraining_gate`` pass files along: ``list_shards`` each source's record
count, every ``scan_shard`` its scan and partial, ``plan_near_duplicates`` the band keys,
signatures and plan, the mapped near-duplicate stages their pair files. By default these
live under ``TRAINGUARD_HOME``, which the workers then share (one volume). With
``TRAINGUARD_SHARED_URL`` (``s3://bucket/prefix`` or any fsspec URL) the workers share
no filesystem: each step still works in its local folder under ``TRAINGUARD_HOME``, and
pushes what it wrote to the same relative place under the URL; the next step, on any
worker, pulls what it reads first.

Why whole files and not remote reads: the stages read Parquet in batches and signatures
with ``pread``; a local copy keeps them as fast as on one machine, and a pull is one
sequential GET per file. Nothing is half-written: a pull lands under a temporary name and
is renamed, and an object store writes an object whole (a PUT); the local fallback
(``file://``) writes then renames too.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
from typing import TYPE_CHECKING, Any

from trainguard.exceptions import ConfigError, SharedStorageError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

# The extra that brings the filesystem of each URL scheme (fsspec names the package).
_EXTRAS = {"s3": "s3", "s3a": "s3"}


# One filesystem per URL scheme, process and environment: making a client costs 0.1-0.4 s
# (measured on S3), and fsspec's own instance cache would keep the endpoint and the
# credentials of the environment it was first made in.
_FILESYSTEMS: dict[tuple[str, int, int], Any] = {}


def _filesystem(url: str) -> tuple[Any, str]:
    """The filesystem of ``url`` and its path there; a ConfigError when the scheme has no
    driver here."""
    import fsspec

    scheme = url.split("://", 1)[0] if "://" in url else "file"
    key = (scheme, os.getpid(), hash(frozenset(os.environ.items())))
    if key not in _FILESYSTEMS:
        try:
            fs = fsspec.core.url_to_fs(url, skip_instance_cache=True)[0]
        except ImportError as exc:
            extra = _EXTRAS.get(scheme)
            hint = f"pip install 'trainguard[{extra}]'" if extra else "install its driver"
            raise ConfigError(
                f"TRAINGUARD_SHARED_URL={scheme}://...: no filesystem for this scheme "
                f"({exc}); {hint}"
            ) from None
        except ValueError as exc:
            raise ConfigError(f"TRAINGUARD_SHARED_URL={scheme}://...: {exc}") from None
        _FILESYSTEMS.clear()  # the environment changed: the old clients are stale
        _FILESYSTEMS[key] = fs
    fs = _FILESYSTEMS[key]
    return fs, fs._strip_protocol(url)


class SharedFolder:
    """``local`` (a folder under ``TRAINGUARD_HOME``) and, when ``TRAINGUARD_SHARED_URL``
    is set, its mirror at the same relative path under that URL."""

    def __init__(self, local: Path, url: str | None) -> None:
        self.local = local
        self.url = url.rstrip("/") if url else None
        self._fs: Any = None
        self._root = ""

    @classmethod
    def of(cls, local: Path) -> SharedFolder:
        """The shared folder of ``local``, which lies under ``TRAINGUARD_HOME``."""
        from trainguard.settings import env, trainguard_home

        base = env("TRAINGUARD_SHARED_URL").strip()
        if not base:
            return cls(local, None)
        try:
            relative = local.resolve().relative_to(trainguard_home().resolve())
        except ValueError:
            raise ConfigError(
                f"{local} is outside TRAINGUARD_HOME ({trainguard_home()}), so it has no "
                f"place under TRAINGUARD_SHARED_URL ({base})"
            ) from None
        return cls(local, f"{base.rstrip('/')}/{relative.as_posix()}")

    @property
    def remote(self) -> bool:
        return self.url is not None

    def _filesystem(self) -> tuple[Any, str]:
        if self._fs is None:
            self._fs, self._root = _filesystem(self.url or "")
        return self._fs, self._root

    def _remote_names(self) -> list[str]:
        fs, root = self._filesystem()
        fs.invalidate_cache()  # another worker may have written since this process listed
        entries: list[dict[str, Any]] = []

        def listing() -> None:
            with contextlib.suppress(FileNotFoundError):  # nothing pushed here yet
                entries.extend(fs.ls(root, detail=True))

        self._io("list", self.url or "", listing)
        return sorted(
            str(e["name"]).rstrip("/").rsplit("/", 1)[-1] for e in entries if e["type"] == "file"
        )

    def pull(self, patterns: Iterable[str]) -> list[str]:
        """Fetch the remote files matching ``patterns`` (names or globs) into ``local``,
        replacing local copies; returns their names. A no-op without a URL."""
        if not self.remote:
            return []
        wanted = list(patterns)
        fs, root = self._filesystem()
        names = [n for n in self._remote_names() if any(fnmatch.fnmatch(n, p) for p in wanted)]
        self.local.mkdir(parents=True, exist_ok=True)
        for name in names:
            target = self.local / name
            temporary = target.with_name(f".{name}.{os.getpid()}.pull")
            self._io("pull", name, lambda n=name, t=temporary: fs.get_file(f"{root}/{n}", str(t)))
            os.replace(temporary, target)
        return names

    def push(self, names: Iterable[str]) -> None:
        """Upload these files of ``local`` (names, or globs over it). A no-op without a URL."""
        if not self.remote:
            return
        from fsspec.implementations.local import LocalFileSystem

        fs, root = self._filesystem()
        on_disk = isinstance(fs, LocalFileSystem)  # no atomic PUT there: write, then rename
        if on_disk:
            fs.makedirs(root, exist_ok=True)
        local = sorted(
            path.name
            for pattern in names
            for path in self.local.glob(pattern)
            if path.is_file() and not path.name.startswith(".")
        )
        for name in local:
            source = str(self.local / name)
            if on_disk:
                temporary = f"{root}/.{name}.{os.getpid()}.push"
                self._io("push", name, lambda s=source, t=temporary: fs.put_file(s, t))
                os.replace(temporary, f"{root}/{name}")
            else:
                self._io("push", name, lambda s=source, n=name: fs.put_file(s, f"{root}/{n}"))

    def delete(self, patterns: Iterable[str] | None = None) -> None:
        """Remove the remote files matching ``patterns``, or the whole remote folder."""
        if not self.remote:
            return
        fs, root = self._filesystem()
        if patterns is None:

            def remove() -> None:
                fs.invalidate_cache()
                if fs.exists(root):
                    fs.rm(root, recursive=True)

            self._io("remove", self.url or "", remove)
            return
        wanted = list(patterns)
        for name in self._remote_names():
            if any(fnmatch.fnmatch(name, p) for p in wanted):
                self._io("remove", name, lambda n=name: fs.rm_file(f"{root}/{n}"))

    def _io(self, action: str, name: str, call: Any) -> None:
        """One transfer; a failure names the file, the URL and the cause."""
        try:
            call()
        except ConfigError:
            raise
        except Exception as exc:
            where = "" if name == self.url else f" {name}"
            raise SharedStorageError(
                f"could not {action}{where} at {self.url} (TRAINGUARD_SHARED_URL): "
                f"{type(exc).__name__}: {exc}"
            ) from exc
