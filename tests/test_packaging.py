"""setup.cfg lists every package directory (it cannot use find: because of twisted.plugins)."""

from __future__ import annotations

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = {line.strip() for line in cfg["options"]["packages"].splitlines() if line.strip()}
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("mailstack", "mailstore", "sieve", "protocols")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found <= listed, f"add to setup.cfg [options] packages: {sorted(found - listed)}"
    assert "twisted.plugins" in listed
    assert not (ROOT / "twistd_plugins" / "__init__.py").exists()
