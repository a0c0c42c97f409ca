"""Runs Debian's `janus` as a supervised child process.

At each start the supervisor writes a fresh configuration into its private temporary folder
(`jcfg.py`: WebSocket transport on 127.0.0.1 on a free port, only the VideoRoom plugin, new
secrets), starts `janus -F FOLDER` in the foreground and waits until its WebSocket answers
`info`. If Janus dies it is started again after a backoff (0.5 s, doubling up to 30 s, back to
0.5 s once a run has lasted a minute). `aclose()` stops it by its PID: SIGTERM, then SIGKILL
after `JANUS_STOP_TIMEOUT`. Janus also gets SIGTERM if Parley dies without stopping it
(`setpriv --pdeathsig`), so it never outlives the server.

Janus's own output is logged under `parley.janus.process` (errors at INFO, fatal ones as
warnings, the rest at DEBUG), with the generated secrets masked.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import shutil
import signal
import socket
import tempfile
from pathlib import Path
from typing import Any

from parley.config import JanusSettings
from parley.errors import JanusError, JanusUnavailableError
from parley.janus.client import MASK, JanusEndpoint, probe
from parley.janus.jcfg import JanusLayout, JanusSecrets, write_config
from parley.tasks import CloseOnce, TaskSet

log = logging.getLogger("parley.janus.process")

FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 60.0
# Janus's own line prefixes. Its [ERR] lines are mostly refused requests, which callers handle.
_LEVELS = {"[FATAL]": logging.WARNING, "[ERR]": logging.INFO}


class JanusSupervisor:
    """Owns one `janus` process at a time, and its configuration folder."""

    def __init__(self, settings: JanusSettings) -> None:
        self._settings = settings
        self._layout = JanusLayout.discover(settings.binary)
        self._folder: Path | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._endpoint: JanusEndpoint | None = None
        self._secrets: JanusSecrets | None = None
        self._ready = asyncio.Event()
        self._tasks = TaskSet("janus")
        self._watcher: asyncio.Task[None] | None = None
        self._recent: collections.deque[str] = collections.deque(maxlen=20)
        self._closing = False
        self._closer = CloseOnce()
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        """The running Janus's PID (None while none runs)."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    @property
    def folder(self) -> Path | None:
        """The generated configuration's folder (None once stopped)."""
        return self._folder

    async def start(self) -> None:
        """Start Janus and wait until it answers (JanusUnavailableError if it cannot)."""
        if shutil.which(self._settings.binary) is None:
            raise JanusUnavailableError(
                f"'{self._settings.binary}' is not installed (scripts/setup.sh installs it)"
            )
        self._folder = Path(tempfile.mkdtemp(prefix="parley-janus-"))
        try:
            await self._launch()
        except BaseException:
            await self.aclose()
            raise
        self._watcher = self._tasks.start(self._watch(), "watch")

    async def endpoint(self) -> JanusEndpoint:
        """Where the running Janus answers, waiting while it (re)starts."""
        if not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), self._settings.start_timeout_s)
        if self._closing or self._endpoint is None or not self._ready.is_set():
            raise JanusUnavailableError("Janus is not running")
        return self._endpoint

    async def aclose(self) -> None:
        """Stop supervising, stop Janus and remove its configuration. A second or concurrent
        call waits for the first (Janus is stopped when any of them returns)."""
        self._closing = True
        self._ready.clear()
        await self._closer.run(self._close)

    async def _close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.wait([self._watcher], timeout=self._settings.stop_timeout_s + 5)
        if self._process is not None:
            await self._stop(self._process)
        await self._tasks.aclose()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    # -- one run ------------------------------------------------------------------------------

    async def _launch(self) -> None:
        assert self._folder is not None
        port, secrets = free_port(), JanusSecrets.generate()
        write_config(self._folder, self._settings, port=port, secrets=secrets, layout=self._layout)
        endpoint = JanusEndpoint(f"ws://127.0.0.1:{port}", secrets.api_secret, secrets.admin_key)
        self._secrets = secrets
        try:
            process = await asyncio.create_subprocess_exec(
                *self._command(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal is for Parley, which stops Janus
                limit=1024 * 1024,
            )
        except OSError as exc:
            raise JanusUnavailableError(f"cannot run {self._settings.binary}: {exc}") from exc
        self._process = process
        self._tasks.start(self._pump(process), f"output-{process.pid}")
        try:
            info = await self._wait_ready(process, endpoint)
        except BaseException:
            await self._stop(process)
            self._process = None
            raise
        self._endpoint = endpoint
        self._ready.set()
        log.info(
            "janus %s ready (pid %d, %s, plugins: %s)",
            info.get("version_string", "?"),
            process.pid,
            endpoint.url,
            ", ".join(info.get("plugins", {})),
        )

    def _command(self) -> list[str]:
        assert self._folder is not None
        command = [self._settings.binary, "--configs-folder", str(self._folder)]
        setpriv = shutil.which("setpriv")  # util-linux: SIGTERM to Janus if Parley dies
        return [setpriv, "--pdeathsig", "TERM", *command] if setpriv else command

    async def _wait_ready(
        self, process: asyncio.subprocess.Process, endpoint: JanusEndpoint
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.start_timeout_s
        while True:
            if process.returncode is not None:
                raise JanusUnavailableError(
                    f"janus exited with status {process.returncode} while starting: "
                    + " | ".join(self._recent)
                )
            with contextlib.suppress(JanusError):
                return await probe(endpoint, timeout_s=1.0)
            if loop.time() > deadline:
                raise JanusUnavailableError(
                    f"janus did not answer within {self._settings.start_timeout_s:g} s"
                )
            await asyncio.sleep(0.05)

    async def _stop(self, process: asyncio.subprocess.Process) -> None:
        if process.returncode is not None:
            return
        log.info("stopping janus (pid %d)", process.pid)
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), self._settings.stop_timeout_s)
        except TimeoutError:
            log.warning("janus (pid %d) ignored SIGTERM; killing it", process.pid)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    # -- supervision --------------------------------------------------------------------------

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = FIRST_BACKOFF_S
        started = loop.time()
        while not self._closing:
            process = self._process
            if process is not None:
                status = await process.wait()
                self._ready.clear()
                if loop.time() - started > STABLE_AFTER_S:
                    backoff = FIRST_BACKOFF_S
                log.warning(
                    "janus (pid %d) exited with status %s; restarting in %.1f s",
                    process.pid,
                    status,
                    backoff,
                )
                self._process = None
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)
            started = loop.time()
            try:
                await self._launch()
            except JanusUnavailableError as exc:
                log.error("janus failed to start again: %s", exc.reason)
                continue
            self.restarts += 1

    async def _pump(self, process: asyncio.subprocess.Process) -> None:
        """Janus's output into our log, line by line, secrets masked."""
        assert process.stdout is not None
        secrets = self._secrets
        while True:
            try:
                line = await process.stdout.readline()
            except ValueError:  # a line over the limit: skipped
                continue
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip()
            if secrets is not None:
                for value in (secrets.api_secret, secrets.admin_secret, secrets.admin_key):
                    text = text.replace(value, MASK)
            if not text:
                continue
            self._recent.append(text)
            level = _LEVELS.get(text[: text.find("]") + 1], logging.DEBUG)
            log.log(level, "janus[%d]: %s", process.pid, text)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port: int = probe_socket.getsockname()[1]
        return port


async def installed_version(binary: str) -> tuple[str, str] | None:
    """The installed Janus's version ("1.1.2") and path, from `janus --help`; None if absent."""
    path = shutil.which(binary)
    if path is None:
        return None
    process = await asyncio.create_subprocess_exec(
        path, "--help", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    output, _ = await process.communicate()
    first = output.decode("utf-8", "replace").partition("\n")[0]  # Janus version: 1102 (1.1.2)
    version = first[first.find("(") + 1 : first.rfind(")")] if "(" in first else "unknown version"
    return version, path
