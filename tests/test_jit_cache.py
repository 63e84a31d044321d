"""model.jit_cache: a kernel edit never runs stale machine code from numba's cache."""

from __future__ import annotations

from numba.core import caching, config

from model import jit_cache


def test_stale_cache_is_emptied_in_numba_cache_dir(tmp_path, monkeypatch):
    """With NUMBA_CACHE_DIR set numba reads only its folder there, so that folder is the one
    emptied when a kernel source changed (a mutation test once ran the unmutated kernel)."""
    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path))
    folder = tmp_path / caching.UserProvidedCacheLocator.get_suitable_cache_subpath(
        str(jit_cache._PACKAGE / "kernel.py"))
    assert jit_cache.cache_folder() == folder
    folder.mkdir(parents=True)
    stale = folder / "kernel.step-1.py311.1.nbc"
    index = folder / "kernel.step-1.py311.nbi"
    other = folder / "notes.txt"
    for path in (stale, index, other):
        path.write_text("x")
    (folder / jit_cache._STAMP).write_text("the hash of an older source")
    jit_cache.check()
    assert not stale.exists() and not index.exists()
    assert other.exists()  # nothing but numba's cache files is touched
    assert (folder / jit_cache._STAMP).read_text() == jit_cache.source_hash()
    stale.write_text("x")  # sources unchanged since the stamp: the cache is kept
    jit_cache.check()
    assert stale.exists()


def test_default_cache_folder_is_the_package_pycache(monkeypatch):
    monkeypatch.setattr(config, "CACHE_DIR", "")
    assert jit_cache.cache_folder() == jit_cache._PACKAGE / "__pycache__"


def test_what_packed_parameters_read_lives_in_the_hashed_sources():
    """`Scenario.packed` reads the parameter table and the form table: both must be in
    files `source_hash` covers, so that editing a form's integration changes the hash
    that workers are checked against and that a sweep's `--resume` compares."""
    import inspect
    from pathlib import Path

    from model import jit_cache, params, scenario

    hashed = {path.resolve() for path in jit_cache._SOURCES}
    assert scenario.FORMS is params.FORMS
    assert Path(inspect.getsourcefile(params)).resolve() in hashed
    assert "form_values(self.form)" in inspect.getsource(scenario.Scenario.packed)
    assert "FORMS[form]" in inspect.getsource(scenario.form_values)  # a timeline's too
