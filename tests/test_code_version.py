"""Benchmark JSONs name the code they measured."""

from __future__ import annotations

import subprocess

from rxt_cli import code_version as module


def test_names_the_checkouts_commit():
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=module.ROOT, capture_output=True, text=True)
    version = module.code_version()
    assert version is not None and version["commit"] == head.stdout.strip()
    assert len(version["commit"]) == 40 and isinstance(version["modified"], bool)


def test_is_none_outside_a_git_checkout(tmp_path, monkeypatch):
    monkeypatch.setattr(module, "ROOT", tmp_path)
    assert module.code_version() is None
