"""Shared fixtures: the repository root, a private solve cache, and the ``cimopt`` command
that the package is checked against (``$CIMOPT_BIN``, else ``target/debug/cimopt``, which
``cargo xtask test`` builds before it runs these tests)."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = "models/tiny_cnn.onnx"


@pytest.fixture(autouse=True)
def at_root(monkeypatch):
    """Every test runs at the repository root, so that model paths (and so the schedules that
    record them) are the same for the package and the command."""
    monkeypatch.chdir(ROOT)


@pytest.fixture
def cache(tmp_path):
    """A solve cache of the test's own, never the user's."""
    return tmp_path / "cache"


class Cli:
    def __init__(self, binary: Path, cache: Path):
        self.binary = binary
        self.cache = cache

    def run(self, *args, ok=True):
        env = dict(os.environ, CIMOPT_CACHE_DIR=str(self.cache))
        p = subprocess.run(
            [str(self.binary), *map(str, args)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        if ok and p.returncode != 0:
            raise AssertionError(f"cimopt {' '.join(map(str, args))} failed:\n{p.stderr}")
        return p

    def error(self, *args):
        """The message the command prints after `error: ` (exit code 1)."""
        p = self.run(*args, ok=False)
        assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
        # After any progress lines (one per layer when stderr is not a terminal).
        at = p.stderr.find("error: ")
        assert at == 0 or (at > 0 and p.stderr[at - 1] == "\n"), p.stderr
        return p.stderr[at + len("error: ") :].rstrip("\n")


@pytest.fixture
def cli(cache):
    binary = Path(os.environ.get("CIMOPT_BIN", ROOT / "target/debug/cimopt"))
    if not binary.exists():
        pytest.fail(f"the cimopt command is not built at {binary} (cargo build, or set CIMOPT_BIN)")
    return Cli(binary, cache)
