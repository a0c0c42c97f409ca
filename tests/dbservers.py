"""Real PostgreSQL and MariaDB servers for the test suite, started by the tests themselves.

Each server gets a fresh data directory under the `base_dir` it is given, listens on a free
TCP port on 127.0.0.1 only, keeps its unix socket in its own directory too, and is stopped
(by its own PID, never by name) and removed again by `DatabaseServer.stop()`. Two exceptions:
when running as root, PostgreSQL runs as the `postgres` user, and if that user cannot reach
`base_dir` (pytest's /tmp/pytest-of-root is 0700) its directory goes to /dev/shm (else the
temp dir); and a unix socket whose path would be too long for AF_UNIX gets a short temp dir
of its own. Tip: a base_dir on tmpfs (/dev/shm) starts either server about twice as fast.
The binaries come from Debian's packages: `scripts/install-test-deps.sh` installs what
`missing_binaries()` reports.

Both servers get a database `parley_test` and a user `parley` (password `parley`) that may
create further databases; `DatabaseServer.url` is the SQLAlchemy async URL for it.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

ServerName = Literal["postgresql", "mariadb"]

HOST = "127.0.0.1"
USER = "parley"
PASSWORD = "parley"
DATABASE = "parley_test"

READY_TIMEOUT = 30.0  # seconds a server gets to accept connections
STOP_TIMEOUT = 15.0  # seconds between the polite signal and SIGKILL
PORT_ATTEMPTS = 3  # a port picked as free may be taken before the server binds it
LOG_TAIL_LINES = 40
SOCKET_PATH_MAX = 100  # sun_path is 108 bytes; keep room for the socket's own name

INSTALL_HINT = "run scripts/install-test-deps.sh"

_running: list[DatabaseServer] = []


@dataclass(eq=False)
class DatabaseServer:
    """One running server process and the directories it owns."""

    name: ServerName
    url: str
    port: int
    process: subprocess.Popen[bytes] = field(repr=False)
    directories: list[Path] = field(repr=False)
    log_path: Path = field(repr=False)
    stop_signal: signal.Signals = field(default=signal.SIGTERM, repr=False)
    host: str = HOST
    user: str = USER
    password: str = field(default=PASSWORD, repr=False)
    database: str = DATABASE
    _stopped: bool = field(default=False, init=False, repr=False)

    @property
    def running(self) -> bool:
        return not self._stopped and self.process.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the server and remove its directories. Safe to call more than once."""
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(ValueError):
            _running.remove(self)
        try:
            _terminate(self.process, self.stop_signal, timeout)
        finally:
            for directory in self.directories:
                shutil.rmtree(directory, ignore_errors=True)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return _tail(self.log_path, lines)

    def __enter__(self) -> DatabaseServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ServerStartError(RuntimeError):
    """A server could not be initialised or did not come up in time."""


# --- finding the binaries -------------------------------------------------------------------


def _version_key(path: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/15/bin -> (15,); anything unparsable sorts first
    try:
        return tuple(int(part) for part in path.parent.name.split("."))
    except ValueError:
        return (-1,)


def _postgresql_bindir() -> Path | None:
    """The newest PostgreSQL whose initdb, postgres and psql are all there."""
    needed = ("initdb", "postgres", "psql")
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key)
    for bindir in reversed(candidates):
        if all(os.access(bindir / tool, os.X_OK) for tool in needed):
            return bindir
    on_path = [shutil.which(tool) for tool in needed]
    if all(on_path):
        dirs = {Path(p).parent for p in on_path if p}
        if len(dirs) == 1:
            return dirs.pop()
    return None


def _find(*names: str, dirs: tuple[str, ...] = ("/usr/sbin", "/usr/bin")) -> Path | None:
    """The first of `names` found on PATH or in `dirs` (sbin is often not on PATH)."""
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found)
        for directory in dirs:
            candidate = Path(directory) / name
            if os.access(candidate, os.X_OK):
                return candidate
    return None


def _mariadbd() -> Path | None:
    return _find("mariadbd", "mysqld")


def _mariadb_install_db() -> Path | None:
    return _find("mariadb-install-db", "mysql_install_db")


def missing_binaries(*servers: ServerName) -> list[str]:
    """What is missing to run the given servers (all when none are named); empty when fine."""
    wanted = servers or ("postgresql", "mariadb")
    missing: list[str] = []
    if "postgresql" in wanted:
        if _postgresql_bindir() is None:
            missing.append("postgresql (initdb, postgres, psql)")
        if os.geteuid() == 0 and _postgres_account() is None:
            missing.append("postgresql (system user 'postgres', needed when running as root)")
    if "mariadb" in wanted:
        if _mariadbd() is None:
            missing.append("mariadb-server (mariadbd or mysqld)")
        if _mariadb_install_db() is None:
            missing.append("mariadb-server (mariadb-install-db or mysql_install_db)")
    return missing


def _require(*servers: ServerName) -> None:
    missing = missing_binaries(*servers)
    if missing:
        raise ServerStartError(f"not installed: {', '.join(missing)}; {INSTALL_HINT}")


# --- helpers ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log at {path}: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def _clean_env() -> dict[str, str]:
    """The environment without PG*/MYSQL* variables, which would steer the tools elsewhere."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PG", "MYSQL", "MARIADB"))
    }


def _postgres_account() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return None


def _traversable_by(path: Path, account: pwd.struct_passwd) -> bool:
    """Whether `account` may reach `path` (x on every ancestor; ACLs are not considered)."""
    groups = set(os.getgrouplist(account.pw_name, account.pw_gid))
    for directory in (path, *path.parents):
        try:
            st = directory.stat()
        except OSError:
            return False
        if st.st_uid == account.pw_uid:
            allowed = bool(st.st_mode & stat.S_IXUSR)
        elif st.st_gid in groups:
            allowed = bool(st.st_mode & stat.S_IXGRP)
        else:
            allowed = bool(st.st_mode & stat.S_IXOTH)
        if not allowed:
            return False
    return True


def _fallback_dir() -> Path:
    """Where to go when `base_dir` will not do: tmpfs when there is one (twice as fast)."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return Path(tempfile.gettempdir())


def _socket_dir(instance: Path, directories: list[Path], sock_name: str) -> Path:
    """`instance` itself unless the socket's path would be too long for AF_UNIX."""
    if len(os.fsencode(instance / sock_name)) <= SOCKET_PATH_MAX:
        return instance
    short = Path(tempfile.mkdtemp(prefix="parley-sock-"))
    directories.append(short)
    return short


def _terminate(process: subprocess.Popen[bytes], sig: signal.Signals, timeout: float) -> None:
    """`sig` to the server's PID, then SIGKILL to its process group after `timeout`."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        # start_new_session made the server the leader of its own group, so this reaches
        # its children (PostgreSQL backends) and nothing else.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _launch(
    argv: list[str],
    log_path: Path,
    cwd: Path,
    account: pwd.struct_passwd | None = None,
) -> subprocess.Popen[bytes]:
    """Start a server with its output going to `log_path`, in a session of its own."""
    with log_path.open("wb") as log:  # a retry on another port starts a fresh log
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=_clean_env(),
            start_new_session=True,
            user=account.pw_uid if account else None,
            group=account.pw_gid if account else None,
            extra_groups=[] if account else None,
        )


def _run(argv: list[str], what: str, cwd: Path, account: pwd.struct_passwd | None = None) -> None:
    """Run a set-up tool to completion; fail with its output."""
    try:
        result = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            cwd=cwd,
            env=_clean_env(),
            timeout=READY_TIMEOUT,
            check=False,
            user=account.pw_uid if account else None,
            group=account.pw_gid if account else None,
            extra_groups=[] if account else None,
        )
    except subprocess.TimeoutExpired as exc:
        raise ServerStartError(f"{what} did not finish in {READY_TIMEOUT:.0f} s") from exc
    if result.returncode != 0:
        output = (result.stdout + result.stderr).decode(errors="replace")
        tail = "\n".join(output.splitlines()[-LOG_TAIL_LINES:])
        raise ServerStartError(f"{what} failed (exit {result.returncode}):\n{tail}")


def _wait_ready(
    process: subprocess.Popen[bytes], ready: Callable[[], bool], log_path: Path, what: str
) -> None:
    """Poll `ready` until it holds; fail if the server exits or the time is up."""
    deadline = time.monotonic() + READY_TIMEOUT
    delay = 0.01
    while True:
        if process.poll() is not None:
            raise ServerStartError(
                f"{what} exited with code {process.returncode} while starting; "
                f"server log tail:\n{_tail(log_path)}"
            )
        if ready():
            return
        if time.monotonic() > deadline:
            raise ServerStartError(
                f"{what} did not accept connections within {READY_TIMEOUT:.0f} s; "
                f"server log tail:\n{_tail(log_path)}"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)


def _port_taken(log_path: Path) -> bool:
    tail = _tail(log_path).lower()
    return "address already in use" in tail or "could not bind" in tail


def _start_with_free_port(
    start: Callable[[int], subprocess.Popen[bytes]],
    ready: Callable[[int], bool],
    log_path: Path,
    what: str,
    stop_signal: signal.Signals,
) -> tuple[subprocess.Popen[bytes], int]:
    """Start on a free port and wait; try another port if the one picked got taken."""
    for attempt in range(1, PORT_ATTEMPTS + 1):
        port = _free_port()
        process = start(port)
        try:
            _wait_ready(process, functools.partial(ready, port), log_path, what)
        except ServerStartError:
            _terminate(process, stop_signal, STOP_TIMEOUT)
            if attempt < PORT_ATTEMPTS and _port_taken(log_path):
                continue
            raise
        except BaseException:
            _terminate(process, stop_signal, STOP_TIMEOUT)
            raise
        return process, port
    raise AssertionError("unreachable")  # pragma: no cover


def _register(server: DatabaseServer) -> DatabaseServer:
    _running.append(server)
    return server


@atexit.register
def _stop_all() -> None:
    """Last resort for servers whose fixture never got to stop them."""
    for server in list(_running):
        with contextlib.suppress(Exception):
            server.stop()


# --- PostgreSQL ------------------------------------------------------------------------------


def _postgresql_ready(data_dir: Path) -> bool:
    # postmaster.pid's 8th line is the postmaster status, "ready" once it takes connections
    # (this is what `pg_ctl start -w` waits for).
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
    except OSError:
        return False
    return len(lines) >= 8 and lines[7].strip() == "ready"


def start_postgresql(base_dir: Path) -> DatabaseServer:
    """A fresh PostgreSQL cluster under `base_dir`, with `parley_test` owned by `parley`."""
    _require("postgresql")
    bindir = _postgresql_bindir()
    assert bindir is not None
    # PostgreSQL refuses to run as root: then initdb and postgres run as `postgres`, which
    # must be able to reach the directory (pytest's /tmp/pytest-of-root is 0700, for one).
    account = _postgres_account() if os.geteuid() == 0 else None
    base_dir.mkdir(parents=True, exist_ok=True)
    parent = base_dir
    if account is not None and not _traversable_by(base_dir, account):
        parent = _fallback_dir()
    instance = Path(tempfile.mkdtemp(prefix="postgresql-", dir=parent))
    directories = [instance]
    try:
        if account is not None:
            os.chown(instance, account.pw_uid, account.pw_gid)
        sock_dir = _socket_dir(instance, directories, ".s.PGSQL.65535.lock")
        if account is not None and sock_dir != instance:
            os.chown(sock_dir, account.pw_uid, account.pw_gid)
        data_dir = instance / "data"
        log_path = instance / "server.log"
        _run(
            [
                str(bindir / "initdb"),
                f"--pgdata={data_dir}",
                "--username=postgres",
                "--auth-local=trust",  # the unix socket is private to this directory
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
                "--no-instructions",
            ],
            "initdb",
            cwd=instance,
            account=account,
        )

        def start(port: int) -> subprocess.Popen[bytes]:
            settings = {
                "listen_addresses": HOST,
                "port": str(port),
                "unix_socket_directories": str(sock_dir),
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
                "shared_buffers": "16MB",
                "max_connections": "100",
                "jit": "off",
                # segments in the data dir, not /dev/shm: nothing outlives the directory, even
                # after a SIGKILL
                "dynamic_shared_memory_type": "mmap",
                "logging_collector": "off",
            }
            argv = [str(bindir / "postgres"), "-D", str(data_dir)]
            for key, value in settings.items():
                argv += ["-c", f"{key}={value}"]
            return _launch(argv, log_path, cwd=instance, account=account)

        process, port = _start_with_free_port(
            start,
            lambda _port: _postgresql_ready(data_dir),
            log_path,
            "postgres",
            # SIGINT is PostgreSQL's "fast" shutdown: it disconnects clients, where SIGTERM
            # ("smart") would wait for every pooled connection to go away first.
            signal.SIGINT,
        )
        server = _register(
            DatabaseServer(
                name="postgresql",
                url=f"postgresql+asyncpg://{USER}:{PASSWORD}@{HOST}:{port}/{DATABASE}",
                port=port,
                process=process,
                directories=directories,
                log_path=log_path,
                stop_signal=signal.SIGINT,
            )
        )
    except BaseException:
        for directory in directories:
            shutil.rmtree(directory, ignore_errors=True)
        raise
    try:
        _run(
            [
                str(bindir / "psql"),
                "--no-psqlrc",
                "--quiet",
                "--set=ON_ERROR_STOP=1",
                f"--host={sock_dir}",
                f"--port={port}",
                "--username=postgres",
                "--dbname=postgres",
                f"--command=CREATE ROLE {USER} LOGIN CREATEDB PASSWORD '{PASSWORD}'",
                f"--command=CREATE DATABASE {DATABASE} OWNER {USER} ENCODING 'UTF8'",
            ],
            "psql (creating the test user and database)",
            cwd=instance,
        )
    except BaseException:
        server.stop()
        raise
    return server


# --- MariaDB ---------------------------------------------------------------------------------


def _mariadb_ready(port: int) -> bool:
    """Whether the server sends its handshake (it does so only once fully started)."""
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as sock:
            header = sock.recv(5)
    except OSError:
        return False
    # 3-byte length, sequence id, then protocol version 10 (0xff would be an error packet)
    return len(header) == 5 and header[4] == 10


def start_mariadb(base_dir: Path) -> DatabaseServer:
    """A fresh MariaDB under `base_dir`, with `parley_test` and user `parley`."""
    _require("mariadb")
    mariadbd = _mariadbd()
    install_db = _mariadb_install_db()
    assert mariadbd is not None
    assert install_db is not None
    base_dir.mkdir(parents=True, exist_ok=True)
    instance = Path(tempfile.mkdtemp(prefix="mariadb-", dir=base_dir))
    directories = [instance]
    try:
        sock_dir = _socket_dir(instance, directories, "mariadb.sock")
        data_dir = instance / "data"
        tmp_dir = instance / "tmp"
        tmp_dir.mkdir()
        log_path = instance / "server.log"
        setup_sql = instance / "setup.sql"
        setup_sql.write_text(
            # mariadb-install-db bootstraps with the grant tables off; this loads them.
            "FLUSH PRIVILEGES;\n"
            f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;\n"
            f"CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}';\n"
            f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'%';\n"
        )
        # mariadbd refuses to run as root unless told that root is the user meant.
        as_root = ["--user=root"] if os.geteuid() == 0 else []
        # Speed over durability: the data is thrown away afterwards.
        server_options = [
            "--skip-log-bin",
            "--skip-name-resolve",
            "--innodb-flush-method=nosync",
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-doublewrite=0",
            "--innodb-buffer-pool-size=32M",
            "--innodb-log-file-size=16M",
            "--innodb-buffer-pool-load-at-startup=0",
            "--innodb-buffer-pool-dump-at-shutdown=0",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_general_ci",
        ]
        _run(
            [
                str(install_db),
                "--no-defaults",  # must come first: ignore /etc/mysql entirely
                f"--datadir={data_dir}",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
                f"--extra-file={setup_sql}",
                *as_root,
                *server_options,
            ],
            "mariadb-install-db",
            cwd=instance,
        )

        def start(port: int) -> subprocess.Popen[bytes]:
            argv = [
                str(mariadbd),
                "--no-defaults",
                f"--datadir={data_dir}",
                f"--tmpdir={tmp_dir}",
                f"--socket={sock_dir / 'mariadb.sock'}",
                f"--pid-file={instance / 'mariadb.pid'}",
                f"--bind-address={HOST}",
                f"--port={port}",
                "--performance-schema=OFF",
                *as_root,
                *server_options,
            ]
            return _launch(argv, log_path, cwd=instance)

        process, port = _start_with_free_port(
            start, _mariadb_ready, log_path, "mariadbd", signal.SIGTERM
        )
    except BaseException:
        for directory in directories:
            shutil.rmtree(directory, ignore_errors=True)
        raise
    return _register(
        DatabaseServer(
            name="mariadb",
            url=f"mysql+asyncmy://{USER}:{PASSWORD}@{HOST}:{port}/{DATABASE}?charset=utf8mb4",
            port=port,
            process=process,
            directories=directories,
            log_path=log_path,
            stop_signal=signal.SIGTERM,
        )
    )
