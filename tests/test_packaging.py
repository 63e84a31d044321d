"""Packaging: pyproject.toml alone installs what the code and the tests import.

A fresh machine has only what pyproject.toml's dependencies pull in, while a
developer's environment may hold more; these tests judge the imports against
the declared requirements and everything they require in turn (their closure,
read from the installed packages' metadata), not against what happens to be
installed.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
OWN = ("model", "agents", "analysis", "benchmarks", "tests")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(*extras: str) -> list[str]:
    """pyproject.toml's dependencies, plus those of the optional `extras`."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"],
            *(r for e in extras for r in project["optional-dependencies"][e])]


def closure(requirements: list[str]) -> set[str]:
    """Canonical names of the distributions that installing `requirements` brings in
    (extras and markers evaluated, as pip does)."""
    seen: set[tuple[str, str]] = set()
    todo = [r for r in map(Requirement, requirements) if r.marker is None or r.marker.evaluate()]
    while todo:
        req = todo.pop()
        for extra in ("", *req.extras):
            if (canonical(req.name), extra) in seen:
                continue
            seen.add((canonical(req.name), extra))
            try:
                requires = metadata.requires(req.name) or []
            except metadata.PackageNotFoundError:
                continue  # not installed here: importing it fails on its own
            for sub in map(Requirement, requires):
                # a requirement without a marker belongs to the package itself, one with
                # `extra == ...` in its marker only to that extra
                if sub.marker.evaluate({"extra": extra}) if sub.marker else not extra:
                    todo.append(sub)
    return {name for name, _ in seen}


# Imports every module given, refusing any package that is installed here but is not
# in the allowed set (so an import that works only because a developer installed the
# package by hand fails, as it would on a fresh machine).
GUARD = r"""
import importlib, re, sys
from importlib import metadata

allowed = set(sys.argv[1].split(","))
owners = metadata.packages_distributions()
own = set(sys.argv[2].split(","))


class Undeclared:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        dists = {re.sub(r"[-_.]+", "-", d).lower() for d in owners.get(top, ())}
        if top not in own and dists and not dists & allowed:
            raise ModuleNotFoundError(f"{top} (installed by {', '.join(sorted(dists))}) is "
                                      "not required by pyproject.toml", name=top)
        return None


sys.meta_path.insert(0, Undeclared())
for module in sys.argv[3:]:
    importlib.import_module(module)
"""


def test_every_module_imports_with_the_declared_dependencies_alone():
    modules = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts)
                     for package in ("model", "agents", "analysis", "benchmarks")
                     for p in (ROOT / package).glob("*.py") if p.name != "__main__.py")
    modules = [m.removesuffix(".__init__") for m in modules]
    proc = subprocess.run([sys.executable, "-c", GUARD, ",".join(closure(declared())),
                           ",".join(OWN), *modules],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-1500:]


def test_every_test_import_is_declared_with_the_test_extra():
    owners = metadata.packages_distributions()
    allowed = closure(declared("test"))
    missing = set()
    for path in [*(ROOT / "tests").glob("*.py"), *(ROOT / "docs").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops = [alias.name.partition(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.partition(".")[0]]
            else:
                continue
            for top in tops:
                if top in OWN or top in sys.stdlib_module_names:
                    continue
                dists = {canonical(d) for d in owners.get(top, ())}
                if not dists & allowed:
                    missing.add(f"{path.relative_to(ROOT)}: {top}")
    assert not missing, sorted(missing)


# Run where a wheel was unpacked, outside the repository: what a user of the installed
# package gets.
INSTALLED = r"""
import sys
from pathlib import Path

from model.scenario import SCENARIO_DIR, bundled_scenarios, load_scenario
from model.sweep_file import bundled_sweeps, load_sweep

assert SCENARIO_DIR.is_relative_to(sys.argv[1]), SCENARIO_DIR
print(" ".join(sorted([*bundled_scenarios(), *bundled_sweeps()])))
for name in bundled_scenarios():
    load_scenario(name)  # rosters too, relative to the scenario file
for name in bundled_sweeps():
    load_sweep(name)
"""


def test_the_wheel_ships_the_bundled_scenarios_and_sweeps(tmp_path):
    src = tmp_path / "src"
    for name in ("model", "agents", "analysis", "scenarios"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(tmp_path / "dist"), str(src)], check=True, timeout=300)
    site = tmp_path / "site"
    zipfile.ZipFile(next((tmp_path / "dist").glob("icsabm-*.whl"))).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run([sys.executable, "-c", INSTALLED, str(site)], cwd=elsewhere,
                          env={**os.environ, "PYTHONPATH": str(site)}, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert proc.stdout.split() == sorted(p.stem for p in (ROOT / "scenarios").glob("*.toml"))


def test_what_building_in_the_checkout_leaves_is_ignored_by_git():
    # `pip install .` and `pip wheel .` build in the checkout (build/, *.egg-info/)
    paths = ["build/lib/model/cli.py", "dist/icsabm-0.1.0-py3-none-any.whl",
             "icsabm.egg-info/PKG-INFO"]
    proc = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "--no-index", *paths],
                          capture_output=True, text=True)
    assert proc.stdout.split() == paths
