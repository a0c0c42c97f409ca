"""A real `parley serve` process for tests that talk to the server as a client would."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from parley.ai.engine import AIEngine
from parley.config import Settings
from parley.web.app import create_asgi_app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def serve_app(
    settings: Settings, engine: AIEngine | None = None
) -> AsyncIterator[tuple[str, Any]]:
    """The real app (HTTP + Socket.IO) under uvicorn in this event loop, on 127.0.0.1: its URL
    and the HTTP app (whose `state` holds the live parts)."""
    asgi = create_asgi_app(settings, engine=engine)
    port = free_port()
    config = uvicorn.Config(asgi, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
            raise RuntimeError("the app did not start")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", asgi.other_asgi_app
    finally:
        server.should_exit = True
        await task


@dataclass
class LiveServer:
    """One server process on loopback; `stop()` is idempotent and ends only this process."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    stopped: bool = field(default=False)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15) -> int:
        if not self.stopped:
            self.stopped = True
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_server(data_dir: Path, env: dict[str, str] | None = None, wait: float = 30) -> LiveServer:
    port = free_port()
    log_path = data_dir / "server.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    environment = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "APP_ENV": "test",
        "LOG_FORMAT": "json",
        "JANUS_ENABLED": "false",
        **(env or {}),
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "parley",
                "--env-file",
                "/dev/null",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=data_dir,
        )
    server = LiveServer(process, f"http://127.0.0.1:{port}", log_path)
    _wait_ready(server, wait)
    return server


def _wait_ready(server: LiveServer, wait: float) -> None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"parley serve exited early:\n{server.log()}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"parley serve was not ready within {wait}s:\n{server.log()}")


@dataclass
class Process:
    """A helper server process of a test (a stand-in); `stop()` ends only this process."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_process(argv: list[str], port: int, log_path: Path, wait: float = 60) -> Process:
    """Start `argv` and wait until it accepts TCP connections on 127.0.0.1:`port`."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    helper = Process(process, port, log_path)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{argv[:3]} exited early:\n{log_path.read_text(errors='replace')}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return helper
        time.sleep(0.1)
    helper.stop()
    raise RuntimeError(f"{argv[:3]} did not listen within {wait}s")
