"""The commit recorded in manifests (model/provenance.py)."""

from __future__ import annotations

import subprocess

import pytest

from model import provenance


@pytest.fixture
def repo(tmp_path):
    """A git repository with one commit (a user's project)."""
    git = ["git", "-C", str(tmp_path), "-c", "user.name=u", "-c", "user.email=u@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "start"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
    return tmp_path, head.stdout.strip()


def test_a_checkout_records_its_commit(repo, monkeypatch):
    folder, head = repo
    monkeypatch.setattr(provenance, "_REPO", folder.resolve())
    assert provenance.git_commit() == head


def test_an_install_inside_another_repository_records_no_commit(repo, monkeypatch):
    folder, _ = repo
    site = folder / ".venv" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    monkeypatch.setattr(provenance, "_REPO", site.resolve())
    assert provenance.git_commit() is None
