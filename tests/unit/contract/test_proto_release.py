"""`make proto-check` (scripts/check_proto.sh) fails on a breaking change to the released event contracts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from safetynet_core.settings import REPO_ROOT


def _copy_of_repo(tmp_path: Path) -> Path:
    """What the check reads: the scripts, proto/ with its releases, the generated code and the venv."""
    root = tmp_path / "repo"
    for part in ("scripts", "proto", "libs/core/src/safetynet"):
        shutil.copytree(REPO_ROOT / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    (root / ".venv").symlink_to(REPO_ROOT / ".venv")
    return root


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(root / "scripts" / "check_proto.sh")], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_current_contracts_do_not_break_the_last_release(tmp_path: Path) -> None:
    result = _check(_copy_of_repo(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no breaking change against release" in result.stdout


def test_renaming_a_released_field_fails_the_check(tmp_path: Path) -> None:
    root = _copy_of_repo(tmp_path)
    contract = root / "proto" / "safetynet" / "v1" / "household_events.proto"
    contract.write_text(contract.read_text().replace("string reference = 3;", "string sender_reference = 3;"))
    subprocess.run(["bash", str(root / "scripts" / "gen_proto.sh")], check=True, capture_output=True, timeout=120)
    result = _check(root)
    assert result.returncode == 1
    assert 'changed name from "reference" to "sender_reference"' in result.stdout + result.stderr
    assert "breaks the released contract" in result.stderr
