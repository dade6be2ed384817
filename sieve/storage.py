"""Per-user Sieve script storage, laid out as Dovecot/Pigeonhole lay it out (RFC 5804 §1.6).

Scripts live in ``<home>/sieve/<name>.sieve``; the active one is marked by the symlink
``<home>/.dovecot.sieve`` → ``sieve/<name>.sieve``, so a site can move users between
Dovecot and mailstack without converting anything. A regular file at ``.dovecot.sieve``
(an old Dovecot setup) is still run by delivery; activating another script first moves it
into the store as ``dovecot.orig``, as Pigeonhole does.

Every write is atomic (``atomic_replace``: temp file, fsync, rename, fsync the directory);
mutations of one user's scripts are serialised by an ``flock`` on ``sieve/.lock`` so the
server and ``mailstack-admin`` can work side by side. All methods block: call them through
:class:`AsyncSieveStorage` (``run_blocking``) from the reactor thread.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import fcntl
import os
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

from mailstore.blocking import run_blocking
from mailstore.maildir.durable import atomic_replace, fsync_dir
from sieve.ast import Script, SieveCompileError, SieveLimits
from sieve.compile import compile_script

__all__ = [
    "ACTIVE_LINK",
    "SCRIPT_DIR",
    "AsyncSieveStorage",
    "SieveQuota",
    "SieveStorage",
    "SieveStorageError",
    "SieveStorageErrorKind",
    "validate_name",
]

SCRIPT_DIR = "sieve"
ACTIVE_LINK = ".dovecot.sieve"
SUFFIX = ".sieve"
MAX_NAME_CHARS = 128
LEGACY_NAME = "dovecot.orig"
_LOCK_NAME = ".lock"

P = ParamSpec("P")
T = TypeVar("T")


class SieveStorageErrorKind(enum.Enum):
    """Why a storage operation was refused; ManageSieve maps each to a response code."""

    INVALID_NAME = "invalid-name"
    NOT_FOUND = "not-found"  # NONEXISTENT
    ALREADY_EXISTS = "already-exists"  # ALREADYEXISTS
    ACTIVE = "active"  # ACTIVE: the active script cannot be deleted
    QUOTA_MAXSCRIPTS = "quota-maxscripts"  # QUOTA/MAXSCRIPTS
    QUOTA_MAXSIZE = "quota-maxsize"  # QUOTA/MAXSIZE
    QUOTA = "quota"  # QUOTA: total storage
    INVALID_UTF8 = "invalid-utf8"


class SieveStorageError(Exception):
    """A refused storage operation; ``detail`` is for the log only."""

    def __init__(self, kind: SieveStorageErrorKind, detail: str = "") -> None:
        super().__init__(f"{kind.value}: {detail}" if detail else kind.value)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True, slots=True)
class SieveQuota:
    """Per-user limits (RFC 5804 §2.3 HAVESPACE); 0 means unlimited."""

    max_scripts: int = 32
    max_script_bytes: int = 256 * 1024
    max_total_bytes: int = 1024 * 1024


def validate_name(name: str) -> None:
    """Refuse names that are not safe script names (RFC 5804 §1.6 plus file-system rules).

    No control characters (C0, DEL, C1), no U+2028/U+2029, no ``/``, no ``..``, no NUL,
    no leading ``.``, 1 to 128 characters, Unicode NFC as RFC 5198 asks.
    """
    if not name or len(name) > MAX_NAME_CHARS:
        raise SieveStorageError(SieveStorageErrorKind.INVALID_NAME, "empty or too long")
    if "/" in name or ".." in name or name.startswith("."):
        raise SieveStorageError(SieveStorageErrorKind.INVALID_NAME, "path characters")
    for ch in name:
        code = ord(ch)
        if code < 0x20 or 0x7F <= code <= 0x9F or code in (0x2028, 0x2029):
            raise SieveStorageError(SieveStorageErrorKind.INVALID_NAME, "control character")
        if 0xD800 <= code <= 0xDFFF:
            raise SieveStorageError(SieveStorageErrorKind.INVALID_NAME, "surrogate")
    if unicodedata.normalize("NFC", name) != name:
        raise SieveStorageError(SieveStorageErrorKind.INVALID_NAME, "not NFC")


def decode_script(content: bytes) -> str:
    """The script text; Sieve scripts are UTF-8 (RFC 5228 §2.2)."""
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise SieveCompileError("script is not valid UTF-8", line) from None


class SieveStorage:
    """One user's scripts under ``home`` (from ``AccountDirectory.home(user)``)."""

    def __init__(
        self,
        home: Path,
        *,
        quota: SieveQuota = SieveQuota(),
        limits: SieveLimits = SieveLimits(),  # noqa: B008 - frozen
        global_dir: Path | None = None,
    ) -> None:
        self.home = home
        self.dir = home / SCRIPT_DIR
        self.active_link = home / ACTIVE_LINK
        self.quota = quota
        self.limits = limits
        self.global_dir = global_dir

    # --- paths and locking ------------------------------------------------------------

    def path(self, name: str) -> Path:
        """The file of script ``name`` (validated)."""
        validate_name(name)
        return self.dir / (name + SUFFIX)

    def _ensure_dir(self) -> None:
        if not self.dir.is_dir():
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            fsync_dir(self.dir.parent)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._ensure_dir()
        fd = os.open(self.dir / _LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # --- reading ----------------------------------------------------------------------

    def _names(self) -> list[str]:
        try:
            entries = os.listdir(self.dir)
        except FileNotFoundError:
            return []
        names = []
        for entry in entries:
            if not entry.endswith(SUFFIX) or entry.startswith("."):
                continue
            name = entry[: -len(SUFFIX)]
            try:
                validate_name(name)
            except SieveStorageError:
                continue
            names.append(name)
        return sorted(names)

    def active_name(self) -> str | None:
        """The active script's name, or None (no link, a dangling link, or a foreign target)."""
        try:
            target = os.readlink(self.active_link)
        except OSError:
            return None
        head, _, base = target.rpartition("/")
        if head.rstrip("/") not in (SCRIPT_DIR, str(self.dir)) or not base.endswith(SUFFIX):
            return None
        name = base[: -len(SUFFIX)]
        return name if name in self._names() else None

    def active_path(self) -> Path | None:
        """What delivery runs: the file behind ``.dovecot.sieve`` (symlink or legacy file)."""
        try:
            return self.active_link.resolve(strict=True)
        except (OSError, RuntimeError):
            return None

    def list(self) -> list[tuple[str, bool]]:
        """``[(name, active)]`` sorted by name (RFC 5804 §2.7 LISTSCRIPTS)."""
        active = self.active_name()
        return [(name, name == active) for name in self._names()]

    def get(self, name: str) -> bytes:
        """The script's content (RFC 5804 §2.9 GETSCRIPT); ``NOT_FOUND``."""
        try:
            return self.path(name).read_bytes()
        except FileNotFoundError:
            raise SieveStorageError(SieveStorageErrorKind.NOT_FOUND, name) from None

    def exists(self, name: str) -> bool:
        """Whether script ``name`` exists."""
        return self.path(name).is_file()

    def _sizes(self) -> dict[str, int]:
        sizes = {}
        for name in self._names():
            with contextlib.suppress(OSError):
                sizes[name] = (self.dir / (name + SUFFIX)).stat().st_size
        return sizes

    # --- checking ---------------------------------------------------------------------

    def have_space(self, name: str, size: int) -> None:
        """Raise a ``QUOTA*`` error unless ``name`` of ``size`` octets fits (RFC 5804 §2.3)."""
        validate_name(name)
        sizes = self._sizes()
        q = self.quota
        if q.max_script_bytes and size > q.max_script_bytes:
            raise SieveStorageError(SieveStorageErrorKind.QUOTA_MAXSIZE, f"{size} octets")
        if q.max_scripts and name not in sizes and len(sizes) >= q.max_scripts:
            raise SieveStorageError(SieveStorageErrorKind.QUOTA_MAXSCRIPTS, f"{len(sizes)}")
        total = sum(v for k, v in sizes.items() if k != name) + size
        if q.max_total_bytes and total > q.max_total_bytes:
            raise SieveStorageError(SieveStorageErrorKind.QUOTA, f"{total} octets in all")

    def include_loader(self) -> Callable[[str, bool], str | None]:
        """The loader ``compile_script`` uses for ``include`` (RFC 6609 §3.2)."""

        def load(name: str, is_global: bool) -> str | None:
            if is_global:
                if self.global_dir is None:
                    return None
                try:
                    validate_name(name)
                    return decode_script((self.global_dir / (name + SUFFIX)).read_bytes())
                except (OSError, SieveStorageError):
                    return None
            try:
                return decode_script(self.get(name))
            except (OSError, SieveStorageError):
                return None

        return load

    def compile(self, name: str, content: bytes) -> Script:
        """Compile ``content`` as script ``name``; ``SieveCompileError`` with the line."""
        text = decode_script(content)
        return compile_script(
            text, name=name, include_loader=self.include_loader(), limits=self.limits
        )

    def check(self, content: bytes, name: str = "checkscript") -> None:
        """Compile without storing (RFC 5804 §2.12 CHECKSCRIPT)."""
        self.compile(name, content)

    # --- writing ----------------------------------------------------------------------

    def put(self, name: str, content: bytes) -> None:
        """Compile, check quota and store atomically (RFC 5804 §2.6 PUTSCRIPT)."""
        validate_name(name)
        self.compile(name, content)
        with self._locked():
            self.have_space(name, len(content))
            atomic_replace(self.path(name), content)

    def activate(self, name: str | None) -> None:
        """Make ``name`` the active script; None deactivates (RFC 5804 §2.8 SETACTIVE)."""
        with self._locked():
            if name is None:
                with contextlib.suppress(FileNotFoundError):
                    self.active_link.unlink()
                    fsync_dir(self.home)
                return
            if not self.exists(name):
                raise SieveStorageError(SieveStorageErrorKind.NOT_FOUND, name)
            self._adopt_legacy_file()
            self._point_link(name)

    def _point_link(self, name: str) -> None:
        tmp = self.home / f"{ACTIVE_LINK}.{os.getpid()}.{os.urandom(6).hex()}.tmp"
        os.symlink(f"{SCRIPT_DIR}/{name}{SUFFIX}", tmp)
        try:
            os.replace(tmp, self.active_link)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        fsync_dir(self.home)

    def _adopt_legacy_file(self) -> None:
        """Move a regular ``.dovecot.sieve`` into the store, so activating loses nothing."""
        if self.active_link.is_symlink() or not self.active_link.is_file():
            return
        dest = self.dir / (LEGACY_NAME + SUFFIX)
        if not dest.exists():
            os.rename(self.active_link, dest)
            fsync_dir(self.dir)
            fsync_dir(self.home)

    def delete(self, name: str) -> None:
        """Delete a script; the active one is refused (RFC 5804 §2.10 DELETESCRIPT)."""
        with self._locked():
            path = self.path(name)
            if self.active_name() == name:
                raise SieveStorageError(SieveStorageErrorKind.ACTIVE, name)
            try:
                path.unlink()
            except FileNotFoundError:
                raise SieveStorageError(SieveStorageErrorKind.NOT_FOUND, name) from None
            fsync_dir(self.dir)

    def rename(self, old: str, new: str) -> None:
        """Rename a script, keeping it active if it was (RFC 5804 §2.11.1 RENAMESCRIPT)."""
        with self._locked():
            src, dest = self.path(old), self.path(new)
            if not src.is_file():
                raise SieveStorageError(SieveStorageErrorKind.NOT_FOUND, old)
            was_active = self.active_name() == old
            try:
                os.link(src, dest)
            except FileExistsError:
                raise SieveStorageError(SieveStorageErrorKind.ALREADY_EXISTS, new) from None
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV):
                    raise
                if dest.exists():
                    raise SieveStorageError(SieveStorageErrorKind.ALREADY_EXISTS, new) from None
                os.rename(src, dest)
            else:
                src.unlink()
            fsync_dir(self.dir)
            if was_active:
                self._point_link(new)


class AsyncSieveStorage:
    """The same operations off the reactor thread (``mailstore.blocking.run_blocking``)."""

    def __init__(self, storage: SieveStorage) -> None:
        self.storage = storage

    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await run_blocking(fn, *args, **kwargs)

    async def list(self) -> list[tuple[str, bool]]:
        """See :meth:`SieveStorage.list`."""
        return await self._run(self.storage.list)

    async def get(self, name: str) -> bytes:
        """See :meth:`SieveStorage.get`."""
        return await self._run(self.storage.get, name)

    async def put(self, name: str, content: bytes) -> None:
        """See :meth:`SieveStorage.put`."""
        await self._run(self.storage.put, name, content)

    async def check(self, content: bytes) -> None:
        """See :meth:`SieveStorage.check`."""
        await self._run(self.storage.check, content)

    async def have_space(self, name: str, size: int) -> None:
        """See :meth:`SieveStorage.have_space`."""
        await self._run(self.storage.have_space, name, size)

    async def activate(self, name: str | None) -> None:
        """See :meth:`SieveStorage.activate`."""
        await self._run(self.storage.activate, name)

    async def delete(self, name: str) -> None:
        """See :meth:`SieveStorage.delete`."""
        await self._run(self.storage.delete, name)

    async def rename(self, old: str, new: str) -> None:
        """See :meth:`SieveStorage.rename`."""
        await self._run(self.storage.rename, old, new)
