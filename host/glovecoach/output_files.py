"""The one policy for every file a `glovecoach` command writes (docs/reliability.md, "Files the
commands write").

- An existing file is replaced only when asked, with the same flag on every command:
  `--overwrite` (`add_overwrite_flag`).
- A symbolic link is never written through, even with `--overwrite`: the link's target may be
  anything (another recording, a file of someone else's), and the user named the link.
- A command never writes over one of its own inputs (`export REC --csv REC`), even with
  `--overwrite`: the file is compared by resolved path and by inode, so a hard link or a path
  spelt another way is caught too.
- A file is written under a temporary name in the same folder and renamed onto its name only
  when it is complete (`atomic_output`), so a failed or interrupted write never leaves half a
  file under the final name and never destroys the file it was meant to replace.

`check_output` applies the first three before any work is done (a long analysis is not run
only to be refused at the end); `atomic_output` checks again at the moment of the rename, and
without `overwrite` installs the file with `link()`, which fails if the name appeared
meanwhile instead of replacing it.

A live recording is the one exception to "rename at the end": see `live_recording_name`.
"""

from __future__ import annotations

import argparse
import errno
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

OVERWRITE_FLAG = "--overwrite"

# Room left in a 255-byte file name for the temporary name's prefix, token and suffixes.
_MAX_NAME_PART = 180

PathLike = str | os.PathLike[str]


class OutputFileError(OSError):
    """An output file that must not or could not be written; the message is one line that
    names the file and says why. An OSError, so callers that handle write failures already
    handle this too."""


# --------------------------------------------------------------------------- the flag


class _DeprecatedOverwrite(argparse.Action):
    """`--force` on `simulate`, from before the flag had one name: same effect, and a notice."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        print(f"{parser.prog}: {option_string} is deprecated, use {OVERWRITE_FLAG}", file=sys.stderr)
        setattr(namespace, self.dest, True)


def add_overwrite_flag(parser: argparse.ArgumentParser, what: str = "the output file",
                       deprecated: Iterable[str] = ()) -> None:
    """Add `--overwrite` (dest `overwrite`) to a command's parser, plus hidden deprecated
    spellings that do the same thing (`--force` on `simulate`) so old scripts keep working."""
    parser.add_argument(OVERWRITE_FLAG, action="store_true",
                        help=f"replace {what} if it exists (never a symbolic link or one of the "
                             f"command's own input files)")
    for alias in deprecated:
        parser.add_argument(alias, dest="overwrite", nargs=0, action=_DeprecatedOverwrite, default=False,
                            help=argparse.SUPPRESS)


# --------------------------------------------------------------------------- the checks


def same_file(a: PathLike, b: PathLike) -> bool:
    """True if `a` and `b` name the same file: the same inode (a hard link, a path through a
    symbolic link) or, when one does not exist yet, the same resolved path."""
    try:
        if os.path.samefile(a, b):
            return True
    except OSError:
        pass  # one of them does not exist (or cannot be looked at): compare the names
    try:
        return Path(a).resolve() == Path(b).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return os.path.abspath(a) == os.path.abspath(b)


def check_output(path: PathLike, *, overwrite: bool, inputs: Iterable[PathLike | None] = ()) -> Path:
    """Refuse to write `path` unless the policy allows it; returns it as a Path.

    Refused, with an `OutputFileError` naming the file and the reason: a symbolic link (even
    with `overwrite`), one of `inputs` (even with `overwrite`; None entries are skipped), a
    folder or anything but a regular file, an existing file without `overwrite`, a folder that
    does not exist or cannot be written in.
    """
    path = Path(path)
    if not path.name or path.name in (".", ".."):
        raise OutputFileError(f"{path}: not a file name")
    if os.path.islink(path):
        target = os.readlink(path)
        raise OutputFileError(f"{path} is a symbolic link (to {target}); a command never writes through "
                              f"a link, even with {OVERWRITE_FLAG}: name the file itself")
    for source in inputs:
        if source is not None and same_file(path, source):
            what = ("is this command's input" if os.fspath(source) == os.fspath(path)
                    else f"is the same file as this command's input {source}")
            raise OutputFileError(f"{path} {what}; writing it would destroy what is being read "
                                  f"(refused even with {OVERWRITE_FLAG}): choose another name")
    parent = path.parent
    if not parent.is_dir():
        raise OutputFileError(f"cannot write {path}: no folder {parent}")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise OutputFileError(f"cannot write {path}: it is a folder")
        if not stat.S_ISREG(st.st_mode):
            raise OutputFileError(f"cannot write {path}: it exists and is not a regular file "
                                  f"(a device, pipe or socket is never replaced)")
        if not overwrite:
            raise OutputFileError(f"{path} already exists (use {OVERWRITE_FLAG} to replace it)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputFileError(f"cannot write {path}: no permission to create files in {parent}")
    return path


def check_outputs(paths: Iterable[PathLike], *, overwrite: bool,
                  inputs: Iterable[PathLike | None] = ()) -> list[Path]:
    """`check_output` for every file one command writes, which must also differ from each other."""
    inputs = list(inputs)
    checked: list[Path] = []
    for path in paths:
        path = check_output(path, overwrite=overwrite, inputs=inputs)
        for other in checked:
            if same_file(path, other):
                raise OutputFileError(f"{path} is given twice as an output ({other})")
        checked.append(path)
    return checked


# --------------------------------------------------------------------------- writing


def _temporary_name(path: Path, label: str) -> Path:
    # Same folder, so the final rename stays on one file system (and is atomic); the final
    # suffix is kept last, because some writers choose the format by it (the report's .html
    # or .pdf, numpy's .gz).
    token = os.urandom(4).hex()   # what secrets.token_hex does (importing secrets costs analyze ~5 ms)
    return path.with_name(f".{path.name[:_MAX_NAME_PART]}.{token}.{label}{path.suffix}")


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(folder: Path) -> None:
    # Makes the rename itself durable (POSIX; some systems cannot open a folder: skip there).
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def install(written: PathLike, path: PathLike, *, overwrite: bool) -> Path:
    """Rename the complete file `written` onto `path` (same folder), by the policy.

    Checked again here, since time passed since `check_output`: a symbolic link that appeared
    is refused; without `overwrite` the file is installed with `link()`, which fails if `path`
    appeared meanwhile rather than replacing it (where hard links are not supported, a check
    then a rename). With `overwrite`, `os.replace` swaps the new file in atomically: a reader
    sees the old file or the new one, never a mixture, and the replaced file's permissions are
    kept.
    """
    written, path = Path(written), Path(path)
    _fsync_path(written)
    if os.path.islink(path):
        raise OutputFileError(f"{path} became a symbolic link while it was being written; not replaced "
                              f"(the new file is {written})")
    if overwrite:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            pass
        else:
            if stat.S_ISREG(st.st_mode):
                os.chmod(written, stat.S_IMODE(st.st_mode))
        os.replace(written, path)
    else:
        try:
            os.link(written, path)
        except FileExistsError:
            raise OutputFileError(f"{path} appeared while it was being written; not replaced "
                                  f"(the new file is {written})") from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
                raise
            if os.path.lexists(path):
                raise OutputFileError(f"{path} appeared while it was being written; not replaced "
                                      f"(the new file is {written})") from None
            os.rename(written, path)
        else:
            os.unlink(written)
    fsync_directory(path.parent)
    return path


@contextmanager
def atomic_output(path: PathLike, *, overwrite: bool, inputs: Iterable[PathLike | None] = ()) -> Iterator[Path]:
    """Yields a new, empty temporary file next to `path` to write; when the block ends without
    an exception, the file is fsynced and renamed onto `path` (`install`). If the block or the
    rename fails, the temporary file is removed and `path` is as it was.

    `path` is checked by `check_output` first. A write failure (disk full, permission, I/O
    error) becomes one `OutputFileError` naming `path`; other exceptions pass unchanged.
    """
    path = check_output(path, overwrite=overwrite, inputs=inputs)
    existed = os.path.lexists(path)
    while True:
        temporary = _temporary_name(path, "tmp")
        try:
            # Created here, exclusively and with the usual permissions (0666 less the umask),
            # so the writer that fills it cannot be handed a name someone else holds.
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputFileError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        yield temporary
        install(temporary, path, overwrite=overwrite)
    except OutputFileError:
        _remove(temporary)
        raise
    except OSError as exc:
        _remove(temporary)
        kept = "the existing file is unchanged" if existed else "nothing was written under that name"
        raise OutputFileError(f"cannot write {path}: {exc.strerror or exc}; {kept}") from exc
    except BaseException:
        _remove(temporary)
        raise


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def live_recording_name(path: PathLike) -> Path:
    """Where `record --overwrite` records while the file it will replace still exists.

    A live recording is written where it will stay readable after a kill -9 (the `.gcrec`
    writer appends and fsyncs every 0.5 s for that), so it is the exception to "write a
    temporary file, rename at the end": with no file at `path`, the recording goes straight to
    `path` (created exclusively, which refuses a name that appeared or is a link); replacing a
    file, it goes to this visible name next to it (`s.gcrec` -> `s.recording-1a2b3c4d.gcrec`),
    found easily after a crash, and replaces `path` only once it is complete and closed. The
    returned name does not exist; the writer creates it exclusively.
    """
    path = Path(path)
    stem = path.stem[:_MAX_NAME_PART]
    while True:
        candidate = path.with_name(f"{stem}.recording-{os.urandom(4).hex()}{path.suffix}")
        if not os.path.lexists(candidate):
            return candidate
