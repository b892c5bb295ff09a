"""Writing files so that a reader never sees half of one: write a hidden sibling, then rename it over."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: Path | str, write: Callable[[Path], object]) -> Path:
    """``write(tmp)`` into a temporary sibling of ``path``, then rename it to ``path`` (atomic on POSIX): a
    killed run leaves the old file or the new one, never a truncated one. The folder is created if needed. A
    full disk is one :class:`OSError` naming the folder, whichever writer met it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise _disk_full(path) from None
    except RuntimeError as err:
        if "unexpected pos" not in str(err):  # torch.save's zip writer after a short write to a full disk
            raise
        raise _disk_full(path) from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _disk_full(path: Path) -> OSError:
    err = OSError(f"no space left on the device holding {path.parent} (writing {path.name}); free some space "
                  f"there or choose another folder")
    err.errno = errno.ENOSPC  # the message alone is what the command prints
    return err
