"""Dataset versions from git + DVC: resolve a revision, fetch it from the DVC remote.

A version is identified by the git commit and the md5 DVC recorded for the dataset
directory; that md5 is the digest the gate logs to MLflow. Fetching clones the repository
at that commit and runs ``dvc pull``, so a missing remote or a missing object fails here,
before any check runs, with DVC's own reason.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from trainguard.exceptions import DatasetVersionError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

_READY_MARKER = ".trainguard-fetched"


@dataclass(frozen=True)
class DatasetVersion:
    repo: str
    path: str
    rev: str
    commit: str
    md5: str
    size: int
    nfiles: int
    remote: str

    @property
    def uri(self) -> str:
        """Where the data lives, in DVC's own terms (repo, path, rev)."""
        return f"dvc://{self.repo}#{self.path}@{self.commit}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetVersion:
        return cls(**data)


def workspace() -> Path:
    """Where fetched dataset versions are cached: ``$TRAINGUARD_HOME/datasets``."""
    from trainguard.settings import trainguard_home

    return trainguard_home() / "datasets"


def tool_env() -> dict[str, str]:
    """Environment for git and DVC: no analytics, no prompts, fixed identity."""
    env = dict(os.environ)
    env.update(
        DVC_NO_ANALYTICS="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME=env.get("GIT_AUTHOR_NAME", "trainguard"),
        GIT_AUTHOR_EMAIL=env.get("GIT_AUTHOR_EMAIL", "trainguard@localhost"),
        GIT_COMMITTER_NAME=env.get("GIT_COMMITTER_NAME", "trainguard"),
        GIT_COMMITTER_EMAIL=env.get("GIT_COMMITTER_EMAIL", "trainguard@localhost"),
    )
    return env


def run_tool(args: list[str], cwd: str | Path, what: str, env: dict[str, str] | None = None) -> str:
    """Run git or DVC; on failure raise ``DatasetVersionError`` with the tool's last words."""
    command = [sys.executable, "-m", "dvc", *args[1:]] if args[0] == "dvc" else args
    try:
        done = subprocess.run(
            command, cwd=cwd, env=env or tool_env(), capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise DatasetVersionError(f"{what}: '{args[0]}' is not installed") from None
    if done.returncode != 0:
        raise DatasetVersionError(f"{what}: {' '.join(args[:2])} failed: {_last_words(done)}")
    return done.stdout


def _last_words(done: subprocess.CompletedProcess[str]) -> str:
    """Why a tool failed, in its own words: its ERROR/WARNING lines (DVC, git), else its
    last lines, else the exit code (a tool that printed nothing still says something)."""
    lines = [line.strip() for line in (done.stderr or done.stdout or "").splitlines()]
    lines = [line for line in lines if line and not line.startswith("<http")]
    said = [line for line in lines if line.startswith(("ERROR", "WARNING", "fatal:", "error:"))]
    return " ".join(said[-2:] or lines[-3:]) or f"no output, exit code {done.returncode}"


def resolve_version(repo: str | Path, path: str, rev: str) -> DatasetVersion:
    """The commit and DVC md5 of ``path`` at ``rev`` (a tag, branch or commit)."""
    repo = str(Path(repo).resolve()) if Path(repo).exists() else str(repo)
    if not Path(repo).is_dir():
        raise DatasetVersionError(f"dataset repository {repo} does not exist")
    path = path.strip("/")
    commit = run_tool(
        ["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
        repo,
        f"revision '{rev}' not found in {repo}",
    ).strip()
    dvc_file = run_tool(
        ["git", "show", f"{commit}:{path}.dvc"],
        repo,
        f"{path}.dvc is not tracked at {rev} ({commit[:12]}); is '{path}' DVC-tracked?",
    )
    try:
        out = yaml.safe_load(dvc_file)["outs"][0]
        md5 = str(out["md5"]).removesuffix(".dir")
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        raise DatasetVersionError(f"{path}.dvc at {commit[:12]} has no output md5") from None
    remote = _default_remote(repo, commit)
    return DatasetVersion(
        repo=repo,
        path=path,
        rev=rev,
        commit=commit,
        md5=md5,
        size=int(out.get("size", 0)),
        nfiles=int(out.get("nfiles", 1)),
        remote=remote,
    )


@dataclass(frozen=True)
class TrackedDigest:
    """The DVC md5 of a dataset folder in a DVC workspace, and whether its files still
    match it (``dvc status``): only then is it the digest the gate reports."""

    md5: str
    dvc_file: Path
    unchanged: bool


def tracked_digest(dataset_dir: str | Path) -> TrackedDigest | None:
    """``<dir>.dvc`` beside a dataset folder in a DVC repository, or None if untracked."""
    folder = Path(dataset_dir).resolve()
    dvc_file = folder.parent / f"{folder.name}.dvc"
    root = next((p for p in (folder, *folder.parents) if (p / ".dvc").is_dir()), None)
    if root is None or not dvc_file.is_file():
        return None
    try:
        md5 = str(yaml.safe_load(dvc_file.read_text(encoding="utf-8"))["outs"][0]["md5"])
    except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError):
        raise DatasetVersionError(f"{dvc_file} has no output md5") from None
    from dvc.repo import Repo

    try:
        with Repo(str(root)) as repo:
            changes = repo.status(targets=[str(dvc_file)])
    except Exception as exc:  # noqa: BLE001 - any DVC failure: say so, name the file
        raise DatasetVersionError(f"dvc status of {dvc_file} failed: {exc}") from None
    return TrackedDigest(md5.removesuffix(".dir"), dvc_file, unchanged=not changes)


def _default_remote(repo: str, commit: str) -> str:
    try:
        config = run_tool(["git", "show", f"{commit}:.dvc/config"], repo, "no DVC config")
    except DatasetVersionError:
        raise DatasetVersionError(
            f"{repo} at {commit[:12]} has no .dvc/config: not a DVC repository"
        ) from None
    import configparser

    parser = configparser.ConfigParser()
    parser.read_string(config)
    name = parser.get("core", "remote", fallback=None)
    if not name or not parser.has_section(f"'remote \"{name}\"'"):
        raise DatasetVersionError(f"{repo} at {commit[:12]} has no default DVC remote")
    return parser.get(f"'remote \"{name}\"'", "url")


def fetch_version(version: DatasetVersion, workspace: str | Path) -> Path:
    """The dataset directory of ``version``, cloned and pulled under ``workspace``.

    Reuses an earlier complete fetch of the same commit and md5; a fetch that dies midway
    leaves only a temporary folder, never a half-filled target. Tasks fetching the same
    version at once on one machine each stage their own copy; the first to finish wins.
    """
    workspace = Path(workspace)
    target = workspace / f"{version.commit[:12]}-{version.md5[:12]}"
    if (target / _READY_MARKER).exists():
        return target / version.path
    workspace.mkdir(parents=True, exist_ok=True)
    workspace.chmod(0o700)  # fetched data holds personal information
    remove_dead_stagings(workspace, "fetch")
    staging = Path(tempfile.mkdtemp(prefix=staging_prefix("fetch", os.getpid()), dir=workspace))
    try:
        run_tool(
            ["git", "clone", "--quiet", "--no-checkout", version.repo, str(staging)],
            workspace,
            f"cannot clone {version.repo}",
        )
        run_tool(
            ["git", "checkout", "--quiet", version.commit],
            staging,
            f"cannot check out {version.commit[:12]}",
        )
        run_tool(  # not --quiet: DVC says why a pull failed only when it may speak
            ["dvc", "pull", f"{version.path}.dvc"],
            staging,
            f"cannot fetch {version.path} from DVC remote {version.remote}",
        )
        if not (staging / version.path).is_dir():
            raise DatasetVersionError(f"DVC pulled nothing into {version.path}")
        (staging / _READY_MARKER).write_text(version.md5)
        try:
            staging.rename(target)  # atomic: target only ever appears complete
        except OSError:
            # Another task on this machine (a second Celery slot) finished the same fetch
            # first; its copy is complete and may be in use, so keep it.
            if not (target / _READY_MARKER).exists():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target / version.path


def staging_prefix(kind: str, pid: int) -> str:
    """The name prefix of a working folder of ``kind`` made by process ``pid`` here."""
    import socket

    return f".{kind}-{socket.gethostname()}-{pid}-"


def remove_dead_stagings(parent: Path, kind: str) -> None:
    """Remove the working folders of ``kind`` in ``parent`` that processes killed on this
    machine (SIGKILL, a lost worker) left: a folder whose process is gone. A live
    process's folder is its own business."""
    ours = staging_prefix(kind, 0).removesuffix("0-")  # .<kind>-<this host>-
    for staging in parent.glob(f"{ours}*"):
        pid_text = staging.name[len(ours) :].split("-", 1)[0]
        if not pid_text.isdigit():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(staging, ignore_errors=True)
        except PermissionError:
            pass  # alive, another user's


def scratch_root() -> Path:
    """``$TRAINGUARD_HOME/scratch``, readable by its owner only: scratch clones hold a
    dataset's full data, personal information included, and never go to the shared
    temporary folder."""
    from trainguard.settings import trainguard_home

    root = trainguard_home() / "scratch"
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)
    return root


@contextmanager
def _scratch(name: str) -> Iterator[Path]:
    """A scratch folder named for its job: what a killed attempt of the same job left
    there is removed before the next attempt starts, and the folder after it ends."""
    folder = scratch_root() / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(mode=0o700)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def rewrite_revision(
    repo: str | Path, path: str, rev: str, *, tag: str, rewrite: Callable[[Path], str]
) -> DatasetVersion:
    """Commit a rewritten copy of ``path`` at ``rev`` as a new DVC revision tagged ``tag``.

    ``rewrite(dataset_dir)`` changes the files in place and returns the commit message.
    The work happens in a scratch clone; the tag reaches the repository last, after the
    data reached the DVC remote, so a crash leaves either no revision or a complete one.
    If ``tag`` already exists it is returned as it is: rerunning never makes a duplicate.
    """
    try:
        return resolve_version(repo, path, tag)
    except DatasetVersionError:
        pass
    source = resolve_version(repo, path, rev)
    with _scratch(
        f"rewrite-{hashlib.sha256(f'{repo}|{path}|{tag}'.encode()).hexdigest()[:16]}"
    ) as scratch:
        clone = scratch / "repo"
        run_tool(["git", "clone", "--quiet", source.repo, str(clone)], scratch, "clone")
        run_tool(
            ["git", "checkout", "--quiet", "-B", f"trainguard-{tag}", source.commit],
            clone,
            f"check out {rev}",
        )
        run_tool(
            ["dvc", "pull", f"{path}.dvc"],
            clone,
            f"fetch {path} from DVC remote {source.remote}",
        )
        message = rewrite(clone / path)
        run_tool(["dvc", "add", "--quiet", path], clone, "dvc add")
        run_tool(["git", "add", f"{path}.dvc"], clone, "git add")
        run_tool(["git", "commit", "--quiet", "-m", message], clone, "git commit")
        run_tool(["git", "tag", tag], clone, f"tag {tag}")
        run_tool(["dvc", "push", "--quiet", f"{path}.dvc"], clone, "dvc push")
        run_tool(
            ["git", "push", "--quiet", "origin", f"refs/tags/{tag}"],
            clone,
            f"push tag {tag} to {source.repo}",
        )
    return resolve_version(repo, path, tag)
