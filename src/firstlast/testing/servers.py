"""Real server processes on 127.0.0.1 for integration tests: ``firstlast serve``, or any command that
answers HTTP once it is up (a ``chroma run`` server, a llama.cpp server).

    with firstlast_server(env) as server:          # ingest first with run_cli("ingest", ..., env=env)
        httpx.get(f"{server.base}/healthz")
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str) -> list[str]:
    """The firstlast command line of this Python (so a test's environment and code are the ones used)."""
    return [sys.executable, "-m", "firstlast.cli", *args]


def run_cli(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cli(*args), env=dict(env), check=True, capture_output=True)


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    base: str  # http://127.0.0.1:PORT
    log: IO[bytes]  # its stderr, in a file: a pipe nobody reads would fill up and block the server

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def wait_until_up(self, path: str = "/healthz", timeout: float = 90.0) -> None:
        """Poll ``path`` until it answers 200; RuntimeError (with the server's stderr) otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}{path}", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.stderr()}")
        raise RuntimeError(f"server at {self.base} did not come up within {timeout:.0f} s")

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.log.close()


def start(command: Sequence[str], port: int, env: Mapping[str, str] | None = None) -> ServerProcess:
    log = tempfile.TemporaryFile()  # noqa: SIM115 - open as long as the server; stop() closes it
    environment = dict(env) if env else None
    proc = subprocess.Popen(list(command), env=environment, stdout=subprocess.DEVNULL, stderr=log)
    return ServerProcess(proc, f"http://127.0.0.1:{port}", log)


def start_firstlast(env: Mapping[str, str], workers: int = 1) -> ServerProcess:
    port = free_port()
    return start(cli("serve", "--port", str(port), "--workers", str(workers)), port, env)


@contextmanager
def firstlast_server(
    env: Mapping[str, str], timeout: float = 90.0, workers: int = 1
) -> Iterator[ServerProcess]:
    """``firstlast serve`` with ``env``, up and ready (/readyz); stopped afterwards."""
    server = start_firstlast(env, workers)
    try:
        server.wait_until_up("/readyz", timeout=timeout)
        yield server
    finally:
        server.stop()
