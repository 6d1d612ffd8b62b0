"""Provenance a reader can follow (issue 19).

1. No committed text file points outside the repository: no absolute path of a machine
   (``/work/...``, ``/tmp/...``, ``/home/...``, ``C:\\...``, ``~/...``), no ``../`` path that
   leaves the project or names nothing in it, and no reference to the evidence folder of
   the machine the data was built on (its ``EVIDENCE.md`` and ``*_evidence.csv`` tables).
2. Every source key used by the data (``SOURCES.md``, ``targets.yaml``, ``behaviour.yaml``)
   and by the validation checks is a row of ``gcm_sim/data/evidence.csv``, and every row
   there names its source.
"""

from __future__ import annotations

import csv
import re
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "gcm_sim" / "data"
SUFFIXES = (".md", ".yaml", ".yml", ".csv", ".py", ".toml", ".txt")
EVIDENCE_COLUMNS = ["key", "figure", "value", "unit", "year", "source", "url"]

# --- what counts as a reference outside the repository ------------------------------------

# URLs are public addresses, not paths of a machine: removed before the path checks.
URL = re.compile(r"\b(?:https?|ftp|tcp|wss?)://\S+")
# A path spelled with an environment variable (``/scratch/$USER/...`` in the cluster how-to)
# is a placeholder for the reader's own machine, not a path of the machine a file was written on.
PLACEHOLDER = re.compile(r"\S*\$\{?[A-Z_][A-Z0-9_]*\}?\S*")
# An absolute POSIX path of two or more segments that starts a token (so "people/year",
# "github.com/x/y" and "GTM/HND/SLV" are not paths), or one of the usual machine roots alone.
ABS_PATH = re.compile(r"(?<![\w.~/\\-])/[A-Za-z_][\w.+-]*(?:/[\w.+-]+)+"
                      r"|(?<![\w.~/\\-])/(?:work|tmp|home|root|Users|mnt|scratch)\b")
WINDOWS_PATH = re.compile(r"(?<![\w])[A-Za-z]:\\\\?[\w.]")
HOME_PATH = re.compile(r"(?<![\w/])~/[\w.]")
PARENT_PATH = re.compile(r"(?<![\w.])(?:\.\./)+[\w.-]*")
# The evidence notes of the build machine, beside the repository but not part of it.
OUTSIDE_NAMES = re.compile(r"\bEVIDENCE\.md\b|\b(?:countries|corridors)_evidence\.csv\b|\bshared/(?:data|EVIDENCE)")
# Narrow exemptions: interfaces every Linux machine has at the same place, read at run time
# (a shebang's interpreter, the null device, the kernel's process tables the dashboard test
# and the executor read, the system browser the dashboard test drives when it is installed).
# They are not paths of the machine a file was written on.
SYSTEM_PATHS = {"/usr/bin/env", "/dev/null", "/proc/net/tcp", "/proc/net/tcp6", "/proc/self/task",
                "/proc/meminfo", "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current",  # memory check
                "/usr/bin/chromium"}
# This file holds examples of bad references for the checker's own test.
SELF = Path(__file__).resolve().relative_to(ROOT).as_posix()


def outside_references(text: str, where: Path | None = None) -> list[str]:
    """The references in ``text`` that point outside the repository (``where``: the file's
    folder, for ``../`` paths)."""
    found = []
    for line in text.splitlines():
        line = PLACEHOLDER.sub(" ", URL.sub(" ", line))
        for m in ABS_PATH.finditer(line):
            if m.group(0).rstrip(".,;:)`'\"") not in SYSTEM_PATHS:
                found.append(m.group(0))
        found += [m.group(0) for m in WINDOWS_PATH.finditer(line)]
        found += [m.group(0) for m in HOME_PATH.finditer(line)]
        found += [m.group(0) for m in OUTSIDE_NAMES.finditer(line)]
        for m in PARENT_PATH.finditer(line):
            target = ((where or ROOT) / m.group(0)).resolve()
            if not target.is_relative_to(ROOT) or not target.exists():
                found.append(m.group(0))
    return found


@lru_cache(maxsize=1)
def committed_text_files() -> tuple[str, ...]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True,
                             check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout: the committed files are unknown")
    return tuple(p for p in out.split("\0") if p.endswith(SUFFIXES) and (ROOT / p).is_file())


def test_the_checker_finds_outside_references_and_lets_urls_and_system_paths_through():
    bad = ["see /work/shared/EVIDENCE.md", "run in /tmp/gcm_cal/run3", "`/tmp`", "/home/u/x.csv",
           "/root/.cache/pip", "C:\\Users\\me\\data.csv", "~/data/world", "../shared/data/x.csv",
           "read from corridors_evidence.csv", "site: /opt/conda/lib/python3.12/site.py", "hydra.sweep.dir=/scratch/me/sweep1"]
    for text in bad:
        assert outside_references(text, DATA), text
    good = ["#!/usr/bin/env python", "> /dev/null", "https://data.worldbank.org/indicator/SP.POP.TOTL",
            "github.com/datasets/population @425fc44 data/population.csv", "people/year, GTM/HND/SLV",
            "hydra.run.dir=outputs/validation", "tcp://127.0.0.1:8786", "see ../SOURCES.md", "hydra.sweep.dir=/scratch/$USER/gcm/sweep1",
            "gcm_sim/decisions.py:64(option_utilities)", "1 - (1 - p)^m / 12"]
    for text in good:
        assert not outside_references(text, DATA / "sub"), (text, outside_references(text, DATA / "sub"))


def test_no_committed_text_file_points_outside_the_repository():
    problems = []
    for rel in committed_text_files():
        if rel == SELF:
            continue
        path = ROOT / rel
        text = path.read_text(encoding="utf-8", errors="replace")
        for ref in outside_references(text, path.parent):
            problems.append(f"{rel}: {ref}")
    assert not problems, ("paths outside the repository (name run directories relative to the project, "
                          "cite gcm_sim/data/evidence.csv keys):\n" + "\n".join(problems))


# --- source keys ----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def evidence() -> dict[str, dict]:
    with (DATA / "evidence.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == EVIDENCE_COLUMNS
        rows = list(reader)
    keys = [r["key"] for r in rows]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
    return {r["key"]: r for r in rows}


BRACKET_KEYS = re.compile(r"\[([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*(?:, [A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*)*)\](?!\()")


def bracket_keys(text: str) -> set[str]:
    return {k for m in BRACKET_KEYS.finditer(text) for k in m.group(1).split(", ")}


def test_every_evidence_row_names_its_source():
    for key, row in evidence().items():
        assert re.fullmatch(r"[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*", key), key
        for col in ("figure", "value", "year", "source"):
            assert row[col].strip(), f"evidence.csv {key}: empty {col}"
        assert not row["url"] or row["url"].startswith(("https://", "http://")), (key, row["url"])


def test_every_key_in_sources_md_is_in_the_evidence_table():
    text = (DATA / "SOURCES.md").read_text(encoding="utf-8")
    used = bracket_keys(text)
    assert len(used) > 30
    assert not used - set(evidence()), f"SOURCES.md cites keys missing from evidence.csv: {sorted(used - set(evidence()))}"
    assert not set(evidence()) - used, f"evidence.csv rows not listed in SOURCES.md: {sorted(set(evidence()) - used)}"
    # the evidence notes of the build machine are not cited by their old nicknames either
    assert not re.search(r"\bEVIDENCE\b|\b(?:CE|KE)\b", text)


def test_every_target_cites_evidence_keys():
    targets = yaml.safe_load((DATA / "targets.yaml").read_text(encoding="utf-8"))["targets"]
    for name, spec in targets.items():
        keys = spec.get("evidence")
        assert isinstance(keys, list) and keys, f"targets.{name}: evidence: [KEY, ...] is required"
        missing = set(keys) - set(evidence())
        assert not missing, f"targets.{name}: keys missing from evidence.csv: {sorted(missing)}"
        assert "EVIDENCE" not in spec["source"], name


def test_behaviour_sources_cite_evidence_keys_or_say_assumption():
    params = yaml.safe_load((DATA / "behaviour.yaml").read_text(encoding="utf-8"))["parameters"]
    for name, entry in params.items():
        keys = entry.get("evidence", [])
        assert isinstance(keys, list), name
        missing = set(keys) - set(evidence())
        assert not missing, f"behaviour.{name}: keys missing from evidence.csv: {sorted(missing)}"
        assert keys or "ASSUMPTION" in entry["source"], \
            f"behaviour.{name}: cite evidence: [KEY] or mark the value as an ASSUMPTION"
        assert "EVIDENCE" not in entry["source"], name


def test_validation_checks_cite_evidence_keys():
    # one citation per check (read from the source: importing the module costs half a second)
    package = sorted((ROOT / "gcm_sim/studies/validation").glob("*.py"))
    code = "\n".join(p.read_text(encoding="utf-8") for p in package)
    n_checks = code.count("return CheckResult(")
    assert n_checks >= 4
    for rel, text in (("gcm_sim/studies/validation/", code),
                      ("docs/validation.md", (ROOT / "docs/validation.md").read_text(encoding="utf-8"))):
        groups = BRACKET_KEYS.findall(text)
        assert len(groups) >= n_checks, f"{rel}: every check cites its publication by [KEY]"
        missing = bracket_keys(text) - set(evidence())
        assert not missing, f"{rel}: keys missing from evidence.csv: {sorted(missing)}"
        assert not re.search(r"\bEVIDENCE\b", text), rel


def test_evidence_table_ships_with_the_package():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"data/*.csv"' in text
