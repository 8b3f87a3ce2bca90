"""One writer per run directory: an OS file lock (fcntl.flock on contract.LOCK) held while a process works in it.

The lock belongs to the open file, not to the file name: the OS releases it when its holder exits or is
killed, so a crashed run never leaves a stale lock behind. A second process asking for a held lock is
told at once (RunBusy, with the holder's pid and host written into the file), never made to wait: a sweep
skips that run and goes on, and the holder finishes it.

The lock file is removed when its holder lets go, so run directories hold only their run's files. That is
safe because a process that gets the lock checks it still holds the file the name points to (not one
removed while it waited for the flock call to answer), and starts again on the current one if not.
"""

import fcntl
import os
import socket
from pathlib import Path

from normbench.rundir.atomic import open_no_link
from normbench.rundir.contract import LOCK


class RunBusy(Exception):
    """Another live process holds the run directory's lock."""

    def __init__(self, run_dir: Path, pid: int | None, host: str | None):
        self.run_dir, self.pid, self.host = run_dir, pid, host
        super().__init__(f"{run_dir} is {self.holder}")

    @property
    def holder(self) -> str:
        """e.g. `being trained by pid 4242` (plus `on HOST` when that is another machine)."""
        if self.pid is None:
            return "being trained by another process"
        where = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        return f"being trained by pid {self.pid}{where}"


class RunLock:
    """`with RunLock(run_dir):` (or acquire() ... release()) the calling process is the directory's one writer,
    or RunBusy is raised.

    Creates the directory (and its parents) if missing; those still empty on release are removed again.
    """

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK
        self._fd: int | None = None
        self._made: list[Path] = []  # the directories acquire() created, innermost first

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> "RunLock":
        self._made = [d for d in (self.run_dir, *self.run_dir.parents) if not d.exists()]
        while True:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            try:
                # Never through a link planted at the lock's name: the pid and host would overwrite its target.
                fd = open_no_link(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except FileNotFoundError:  # the directory was removed in between: make it again
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid, host = _holder(fd)
                os.close(fd)
                self._tidy_made_dir()
                raise RunBusy(self.run_dir, pid, host) from None
            except BaseException:
                os.close(fd)
                raise
            if _is_current(fd, self.path):
                break
            os.close(fd)  # we locked a file its previous holder had already removed: lock the current one
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        # Removed while still held: whoever opens the name next creates a new file (see _is_current).
        self.path.unlink(missing_ok=True)
        os.close(self._fd)  # releases the lock
        self._fd = None
        self._tidy_made_dir()

    def _tidy_made_dir(self) -> None:
        """Remove the directories acquire() made, innermost first, as long as nothing was written into them."""
        for directory in self._made:
            try:
                directory.rmdir()
            except OSError:
                return


def _is_current(fd: int, path: Path) -> bool:
    try:
        named, held = os.stat(path), os.fstat(fd)
    except FileNotFoundError:
        return False
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def _holder(fd: int) -> tuple[int | None, str | None]:
    """(pid, host) the holder wrote into the lock file; (None, None) if it has not written them yet."""
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
        return int(text[0]), (text[1] if len(text) > 1 else None)
    except (OSError, ValueError, IndexError):
        return None, None
