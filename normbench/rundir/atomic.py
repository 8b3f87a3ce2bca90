"""Atomic file writes: a temp file in the target's directory, then os.replace, so readers (and a run
killed mid-write) only ever see the old file or the complete new one. The data is fsynced before the
rename and the directory after it, so the new file also survives a crash of the machine.

Never through a symbolic link: the temp file is created with O_CREAT|O_EXCL|O_NOFOLLOW (tempfile.mkstemp), and
the rename replaces a link at the target's name rather than writing to what it points at. A file normbench opens
in place (the run's lock, metrics.csv appended to) is opened with O_NOFOLLOW (`open_no_link`): a link planted
there is refused in one line (PlantedLink), as is a run directory that holds one (`refuse_planted_links`).
"""

import errno
import json
import os
import tempfile
from pathlib import Path

from normbench.errors import ConfigError

NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)


class PlantedLink(ConfigError):
    """A symbolic link where normbench writes a file of its own: writing would change the file it points to."""

    def __init__(self, path: Path):
        path = Path(path)
        super().__init__(f"{path} is a symbolic link (to {os.readlink(path)}); normbench never writes through one: "
                         f"remove the link (or move the directory away) and run again")


def open_no_link(path: Path, flags: int, mode: int = 0o666) -> int:
    """os.open that refuses a symbolic link at `path` (PlantedLink) instead of opening the file it points to."""
    try:
        return os.open(path, flags | NO_FOLLOW, mode)
    except OSError as error:
        if error.errno == errno.ELOOP and os.path.islink(path):
            raise PlantedLink(path) from None
        raise


def refuse_planted_links(directory: Path, names) -> None:
    """PlantedLink for the first of `names` (files or folders a writer owns in `directory`) that is a link."""
    for name in names:
        if os.path.islink(Path(directory) / name):
            raise PlantedLink(Path(directory) / name)


def _default_mode() -> int:
    """The mode an ordinary open() would give (0666 less the umask); mkstemp's temp files are 0600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically. An OSError names `path`, never the temporary file: that name means
    nothing to the user (e.g. `path` is a directory, or the file system is read-only)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, _default_mode())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno is not None:
            raise type(error)(error.errno, error.strerror, str(path)) from None
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a directory's entries (a rename, a new file) durable; a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory: the rename is still atomic
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Flush a file that another object writes (e.g. TensorBoard's event file) from the OS to the disk."""
    fd = open_no_link(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")
