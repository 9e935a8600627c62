"""The type information the package ships (`py.typed`, `cimopt/_cimopt.pyi`) against the built
module, so that IDEs and mypy see the API that is there."""

import importlib.resources
import re
import subprocess
import sys

import cimopt
from conftest import ROOT


def mypy(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True
    )


def test_the_package_is_typed():
    files = importlib.resources.files("cimopt")
    assert files.joinpath("py.typed").is_file()
    assert files.joinpath("_cimopt.pyi").is_file()


def test_the_stubs_match_the_built_module(tmp_path):
    # stubtest imports the installed package and compares every public name, parameter
    # (name, kind, default) and class member of the module with the stub: a function added
    # to the module without a stub, or a keyword renamed, fails here.
    p = mypy("mypy.stubtest", "cimopt", "--mypy-config-file", "/dev/null", cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    # The package exports every public name of the module.
    native = set(cimopt._cimopt.__all__)
    assert native <= set(cimopt.__all__), native - set(cimopt.__all__)


def test_the_readme_example_type_checks(tmp_path):
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("\n## Python\n") :]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    (tmp_path / "example.py").write_text(code)
    p = mypy(
        "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), "example.py", cwd=tmp_path
    )
    assert p.returncode == 0, p.stdout + p.stderr
    # And a mistake in it is seen (the stubs are read, not ignored as missing).
    (tmp_path / "wrong.py").write_text(
        "import cimopt\n"
        "e = cimopt.export('s.json', 'miredo', layer='3')\n"
        "n: int = e.text\n"
    )
    p = mypy("mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), "wrong.py", cwd=tmp_path)
    assert p.returncode == 1, p.stdout + p.stderr
    assert 'Argument "layer" to "export" has incompatible type "str"' in p.stdout, p.stdout
    assert 'Incompatible types in assignment (expression has type "str"' in p.stdout, p.stdout
