"""The trainer dashboard (issue 6): the server, and the page driven in a real browser.

The browser tests (marked ``slow``: about 35 s on a quiet machine, 3 minutes under load) start `gcm-sim dashboard` as a subprocess on a free port (stopped by
its PID) and drive Debian's Chromium with Playwright (`.ci/run` installs `chromium`).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gcm_sim.edges import app
from gcm_sim.edges.cli import main

from .helpers import free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


# --- command line -----------------------------------------------------------------------


def test_dashboard_settings_default_to_localhost_and_split_the_overrides():
    s = app.parse_args(["scenario=remittance_sdg", "run.households=3000", "policy.visa.default.fee_usd=60"])
    assert (s.host, s.port) == ("127.0.0.1", 8765)
    assert (s.scenario, s.households, s.seed) == ("remittance_sdg", "3000", "0")
    assert s.overrides == "policy.visa.default.fee_usd=60"
    s = app.parse_args(["dashboard.host=0.0.0.0", "dashboard.port=9000"])
    assert (s.host, s.port) == ("0.0.0.0", 9000)


@pytest.mark.parametrize("argv, key", [
    (["dashboard", "dashboard.port=99999"], "dashboard.port"),
    (["dashboard", "dashboard.colour=red"], "dashboard.colour"),
    (["dashboard", "run.households=5"], "run.households"),
    (["dashboard", "policy.visa.default.fee_usd=-1"], "policy.visa.default.fee_usd"),
])
def test_dashboard_validates_before_serving_and_exits_2(argv, key, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"gcm-sim: error: invalid config: {key}=")


def test_bad_input_on_the_page_keeps_the_cli_message_and_builds_nothing(capsys):
    d = app.Dashboard(households="50")
    assert main(["run", "run.households=50"]) == 2
    assert d.error == capsys.readouterr().err.strip()
    assert d.policy is None and not d.running
    d.step()  # does nothing, raises nothing
    d = app.Dashboard(households="1000", enforcement=1.5, labour_quota=500, climate_origin="MLI", follow=False)
    assert d.error is None and d.policy.cfg.policy.enforcement.interception_multiplier == 1.5
    assert len(d.policy.cfg.policy.pathways.labour_agreements) == len(d.policy.world.corridors)
    assert "policy.enforcement.interception_multiplier=1.5" in d.command


def test_follow_one_household_tells_a_story():
    d = app.Dashboard(households="1000", compare=True)
    for _ in range(4):
        d.step()
    assert d.followed is not None and d.story[0].startswith("We follow household")
    assert any("chose" in line for line in d.story)
    assert len(d.baseline_history) == len(d.history) == 4


# --- the page in a browser ------------------------------------------------------------------


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (from /proc/net/tcp and tcp6)."""
    out = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(name):
            continue
        for line in Path(name).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.split(":")
            if state == "0A" and int(p, 16) == port:
                if len(addr) == 8:
                    out.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(addr)[::-1]))
                else:
                    raw = b"".join(bytes.fromhex(addr[i:i + 8])[::-1] for i in range(0, 32, 8))
                    out.add(socket.inet_ntop(socket.AF_INET6, raw))
    return out


@pytest.fixture(scope="module")
def server():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} missing: apt-get install chromium (.ci/run does)")
    pytest.importorskip("playwright")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gcm_sim.edges.cli", "dashboard", f"dashboard.port={port}"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in first, first
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, "the dashboard server exited"
                time.sleep(0.2)
        yield {"url": f"http://127.0.0.1:{port}/", "port": port, "pid": proc.pid}
    finally:
        stop_process(proc, timeout=10)


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _open(browser, url):
    page = browser.new_page(viewport={"width": 1500, "height": 1150})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector(".gcm-status", timeout=90_000)
    return page, errors


def _steps(page, n: int, month_after: int) -> str:
    for i in range(n):
        page.get_by_role("button", name="Step").click()
        if i == 0 and month_after == n:  # month 1 mounts the charts: let them draw before stepping on
            page.wait_for_selector(".gcm-charts canvas", timeout=30_000)
    page.wait_for_function(f"(document.querySelector('.gcm-status')?.innerText || '').includes('month {month_after} of')",
                           timeout=30_000)
    return page.locator(".gcm-readout").inner_text()


def _reset(page):
    page.get_by_role("button", name="Reset").click()
    page.wait_for_function("(document.querySelector('.gcm-status')?.innerText || '').includes('month 0 of')"
                           " || document.querySelector('.gcm-error') !== null", timeout=30_000)


@pytest.mark.slow  # real browser: ~35 s quiet, ~3 min under load; .ci/run runs it after `make test`
def test_server_listens_on_localhost_only(server):
    assert _listening_addresses(server["port"]) == {"127.0.0.1"}


@pytest.mark.slow  # real browser: ~35 s quiet, ~3 min under load; .ci/run runs it after `make test`
def test_page_loads_and_a_lever_changes_what_the_charts_show(server, browser):
    page, errors = _open(browser, server["url"])
    assert not errors, errors
    before = _steps(page, 3, 3)
    numbers = re.findall(r"\d[\d,.]*", before)
    assert numbers and any(n.strip("0.,") for n in numbers), before
    # enforcement effort slider (0 to 5): click at 40% of the track -> 2.0; Reset applies it
    track = page.locator(".v-input", has_text="Enforcement").locator(".v-slider")
    track.scroll_into_view_if_needed()
    box = track.bounding_box()
    page.mouse.click(box["x"] + 0.4 * box["width"], box["y"] + box["height"] / 2)
    page.wait_for_timeout(500)
    _reset(page)
    assert "interception_multiplier=2.0" in page.locator(".gcm-command").inner_text()
    after = _steps(page, 3, 3)
    assert after != before, after
    page.screenshot(path=str(ROOT / "docs" / "dashboard.png"), full_page=True)
    assert not errors, errors
    page.close()


@pytest.mark.slow  # real browser: ~35 s quiet, ~3 min under load; .ci/run runs it after `make test`
def test_comparison_mode_shows_both_runs_and_bad_input_shows_the_cli_message(server, browser, capsys):
    page, errors = _open(browser, server["url"])
    page.locator("label", has_text="Comparison mode").first.click()
    page.wait_for_timeout(500)
    _reset(page)
    _steps(page, 2, 2)
    page.get_by_role("tab", name="Page 1").click()
    table = page.locator(".gcm-compare-table")
    table.wait_for(timeout=30_000)
    text = table.inner_text()
    assert "baseline" in text and "your policy" in text and "irregular_departures" in text
    assert len(re.findall(r"\d", text)) > 20
    page.get_by_role("tab", name="Page 0").click()
    # a value out of range: the command line's message on the page, and the app keeps running
    box = page.get_by_label("Households (simulated; Enter to confirm)").first
    box.fill("50")
    box.press("Enter")
    _reset(page)
    assert main(["run", "run.households=50"]) == 2
    assert page.locator(".gcm-error").first.inner_text().strip() == capsys.readouterr().err.strip()
    box.fill("2000")
    box.press("Enter")
    _reset(page)
    _steps(page, 1, 1)
    assert not errors, errors
    page.close()
