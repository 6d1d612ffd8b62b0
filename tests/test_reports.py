"""Analyst reports v2 (issue 15): any policy against baseline (scenario files, per-arm overrides,
Config arms), results by origin and corridor, report.html/report.pdf/results.xlsx rendered and
read back, `gcm-sim show`, and the briefing book at a tiny size."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gcm_sim.edges.cli import main
from gcm_sim.studies.calibration import DEFAULT_PARAMETERS

CHROMIUM = "/usr/bin/chromium"
TINY = ["run.households=1000", "run.months=6", "run.replicates=2"]
SEN_FILE = """\
meta:
  title: EU-Senegal mobility package
  description: The EU offers Senegal multi-entry visas and labour agreements; remittances to Senegal cost 3%.
  question: What happens if the EU offers Senegal multi-entry visas and labour agreements?
  gcm_objectives: [5, 19, 20]
policy:
  visa:
    corridors:
      - {origin: SEN, destination: eu, multi_entry: true, fee_usd: 80}
  pathways:
    labour_agreements:
      - {origin: SEN, destination: eu, annual_quota: 5000, skill: any}
  remittances:
    corridors:
      - {origin: SEN, destination: eu, cost_pct: 3}
expect:
  irregular_departures: down
"""


@pytest.fixture(scope="module")
def sen_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("scen") / "sen_eu_package.yaml"
    p.write_text(SEN_FILE, encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def compared(tmp_path_factory, sen_file):
    """One CLI comparison of a user's file and a shipped scenario with a one-arm override."""
    out = tmp_path_factory.mktemp("cmp") / "run"
    rc = main(["compare", str(sen_file), "remittance_sdg", *TINY, "arm.remittance_sdg.policy.remittances.cost_pct=2",
               "report.by=corridor", "report.origins=[SEN]", f"hydra.run.dir={out}"])
    assert rc == 0
    return out


def test_compare_a_scenario_file_with_a_one_arm_override(compared):
    import yaml

    sen = yaml.safe_load((compared / "configs" / "sen_eu_package.yaml").read_text())
    rem = yaml.safe_load((compared / "configs" / "remittance_sdg.yaml").read_text())
    base = yaml.safe_load((compared / "configs" / "baseline.yaml").read_text())
    assert sen["policy"]["pathways"]["labour_agreements"][0]["origin"] == ["SEN"]
    assert rem["policy"]["remittances"]["cost_pct"] == 2.0  # the arm override, on that arm only
    assert base["policy"]["remittances"]["cost_pct"] is None and sen["policy"]["remittances"]["cost_pct"] is None
    assert sen["run"] == base["run"] == rem["run"]  # shared seeds and size
    md = (compared / "report.md").read_text()
    assert md.startswith("# EU-Senegal mobility package, Remittance SDG against current policies")
    assert "The EU offers Senegal multi-entry visas" in md and "What happens if the EU offers Senegal" in md
    assert "Remittance sdg" not in md and "Sen eu package" not in md
    # the arm's own meta, not baseline's
    sen_section = md.split("### EU-Senegal mobility package")[1].split("###")[0]
    assert "GCM objectives:** 5, 19, 20" in sen_section and "Current policies as observed" not in sen_section
    # the selector that creates a corridor the world data lacks is named
    assert "SEN-GRC" in md and "policy.pathways.labour_agreements[0]" in md
    for section in ("## Headline findings", "## Results by origin", "## Results by corridor", "## GCM scorecard",
                    "## What this model can and cannot say", "## Methods annex"):
        assert section in md, section
    assert "In Senegal (SEN):" in md
    # tables name the arms by their titles, settings read as YAML, not Python
    assert "| origin | indicator | baseline | EU-Senegal mobility package | Remittance SDG |" in md
    assert "| GCM objective | indicator | baseline | EU-Senegal mobility package | Remittance SDG |" in md
    assert "'origin'" not in md and "multi_entry: true" in md
    assert "calibration targets" not in md or "of 19 published targets" in md


def test_results_by_origin_and_corridor_have_mdc_and_small_sample_flags(compared):
    by_o = pd.read_csv(compared / "summary_by_origin.csv")
    assert {"origin", "mdc", "mdc_pct", "small_sample"} <= set(by_o.columns)
    sen = by_o[(by_o.origin == "SEN") & (by_o.scenario == "sen_eu_package")]
    assert set(sen.indicator) >= {"irregular_departures", "regular_departures", "remittances_received_usd"}
    assert sen.small_sample.all()  # 2 replicates: every result is flagged
    by_c = pd.read_csv(compared / "summary_by_corridor.csv")
    assert {"origin", "destination"} <= set(by_c.columns)
    assert "small sample" in (compared / "report.md").read_text()


def test_results_xlsx_reads_back_equal_to_summary_csv(compared):
    from gcm_sim.edges.document import read_xlsx

    sheets = read_xlsx(compared / "results.xlsx")
    assert {"summary", "by_origin", "by_corridor", "indicators"} <= set(sheets)
    csv = pd.read_csv(compared / "summary.csv")
    pd.testing.assert_frame_equal(sheets["summary"], csv, check_dtype=False)
    pd.testing.assert_frame_equal(sheets["by_origin"], pd.read_csv(compared / "summary_by_origin.csv"),
                                  check_dtype=False)


@pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="Debian's chromium is not installed (.ci/run)")
def test_report_html_renders_in_chromium_with_its_figures(compared):
    from playwright.sync_api import sync_playwright

    html = (compared / "report.html").read_text()
    assert 'src="figures/' not in html and "data:image/png;base64," in html  # figures embedded
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto((compared / "report.html").as_uri())
        widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
        h1 = page.inner_text("h1")
        heads = page.eval_on_selector_all("h2", "els => els.map(e => e.innerText)")
        browser.close()
    assert widths and all(w > 100 for w in widths)  # every figure decoded
    assert "EU-Senegal mobility package" in h1
    assert "What this model can and cannot say" in heads and "Methods annex" in heads


@pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="Debian's chromium is not installed (.ci/run)")
def test_report_pdf_converts_to_page_images(compared, tmp_path):
    pdf = compared / "report.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "2", str(pdf), str(tmp_path / "p")], check=True)
    pages = sorted(tmp_path.glob("p*.png"))
    assert len(pages) == 2
    from matplotlib.image import imread

    img = imread(pages[0])
    assert img.shape[0] > 300 and img[..., :3].std() > 0.05  # a page with text on it, not blank
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "EU-Senegal mobility package" in text and "Methods annex" in text


def test_scenario_file_errors_name_the_file_and_key(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("policy:\n  visa:\n    default:\n      fee_usd: -5\n")
    assert main(["run", f"scenario={bad}", *TINY, f"hydra.run.dir={tmp_path / 'o'}"]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "policy.visa.default.fee_usd" in err
    typo = tmp_path / "typo.yaml"
    typo.write_text("policy:\n  visas: {}\n")
    assert main(["compare", str(typo), *TINY, f"hydra.run.dir={tmp_path / 'o'}"]) == 2
    err = capsys.readouterr().err
    assert "typo.yaml" in err and "policy.visas" in err
    assert main(["compare", "remittance_sdg", "arm.nosuch.policy.remittances.cost_pct=2", *TINY]) == 2
    assert "arm.NAME.KEY=VALUE" in capsys.readouterr().err
    assert main(["compare", "remittance_sdg", "arm.remittance_sdg.run.months=3", *TINY]) == 2
    assert "shared by every arm" in capsys.readouterr().err
    assert main(["run", f"scenario={tmp_path / 'missing.yaml'}", *TINY]) == 2
    assert "no such scenario file" in capsys.readouterr().err


def test_run_accepts_a_scenario_file_and_overrides_win(sen_file):
    import gcm_sim

    cfg = gcm_sim.load_config(overrides=[f"scenario={sen_file}", "policy.remittances.corridors=[]", *TINY])
    assert cfg.scenario.name == "sen_eu_package" and cfg.scenario.title == "EU-Senegal mobility package"
    assert cfg.policy.remittances.corridors == () and cfg.policy.pathways.labour_agreements[0].annual_quota == 5000


def test_compare_api_accepts_config_objects():
    import gcm_sim
    from gcm_sim.studies import experiment

    cfg = gcm_sim.load_config(overrides=TINY)
    custom = gcm_sim.load_config(overrides=["policy.remittances.cost_pct=1"])  # named "baseline"
    arms = experiment.arm_configs(cfg, [custom, "remittance_sdg"])
    assert list(arms) == ["baseline", "custom", "remittance_sdg"]
    assert arms["custom"].policy.remittances.cost_pct == 1 and arms["custom"].run == cfg.run
    res = gcm_sim.compare(cfg, scenarios=[custom])
    assert set(res.summary.scenario) == {"baseline", "custom"}


def test_by_origin_fills_replicates_without_rows_with_zero():
    from gcm_sim.studies.experiment import by_origin, dense

    rows = [("baseline", 0, 1, "SEN", 10.0), ("baseline", 1, 1, "SEN", 20.0), ("baseline", 2, 1, "SEN", 30.0),
            ("arm", 0, 1, "SEN", 6.0)]  # arm replicates 1 and 2 had no departures: no rows
    ts = pd.DataFrame([{"scenario": s, "replicate": r, "seed": 0, "month": m, "origin": o, "destination": "ITA",
                        "channel": "smuggled", "sex": "all", "age_group": "all", "measure": "departures_irregular",
                        "value": v} for s, r, m, o, v in rows])
    # every replicate has rows (every measure appears at least once per run), but not for every origin
    ts = pd.concat([ts, ts.iloc[[0, 0]].assign(scenario="arm", replicate=[1, 2], origin="MLI", value=1.0)])
    t = by_origin(ts)
    arm = t[(t.scenario == "arm") & (t.origin == "SEN") & (t.indicator == "irregular_departures")].iloc[0]
    assert arm["n"] == 3 and arm["mean"] == pytest.approx(2.0)  # (6 + 0 + 0) / 3, not 6
    assert arm["diff"] == pytest.approx(2.0 - 20.0) and arm["small_sample"]
    assert t[(t.scenario == "baseline") & (t.origin == "MLI") & (t.indicator == "irregular_departures")]["mean"].iloc[0] == 0
    d = dense(ts, ["departures_irregular"])
    sen = d[d.origin == "SEN"]
    assert len(sen[sen.scenario == "arm"]) == 3 and sen[sen.scenario == "arm"].value.sum() == 6.0
    assert sen.groupby("scenario").value.mean().to_dict() == {"arm": 2.0, "baseline": 20.0}
    assert list(d.columns) == list(ts.columns)


def test_monthly_difference_band_never_takes_an_arm_below_zero():
    from gcm_sim.edges.report import monthly_difference

    rows = [("baseline", 0, 10.0), ("baseline", 1, 200.0), ("arm", 0, 0.0), ("arm", 1, 0.0)]
    ts = pd.DataFrame([{"scenario": s, "replicate": r, "seed": 0, "month": 1, "origin": "SEN", "destination": "ITA",
                        "channel": "labour", "sex": "all", "age_group": "all", "measure": "departures_regular",
                        "value": v} for s, r, v in rows])
    months, d, lo, hi = monthly_difference(ts, "departures_regular")["arm"]
    assert d[0] == pytest.approx(-105.0) and lo[0] == pytest.approx(-105.0)  # the t-interval reaches -1,300


def test_new_corridors_names_pairs_absent_from_the_world_data():
    import gcm_sim
    from gcm_sim.studies.scenarios import new_corridors
    from gcm_sim.world import load_world

    w = load_world()
    cfg = gcm_sim.load_config(overrides=["policy.pathways.labour_agreements=[{origin:SEN,destination:eu,"
                                         "annual_quota:100,skill:any}]"])
    got = {(r["origin"], r["destination"]) for r in new_corridors(cfg, w)}
    have = set(zip(w.corridors.origin, w.corridors.destination))
    assert ("SEN", "GRC") in got and not (got & have)
    assert new_corridors(gcm_sim.load_config(), w) == []


def test_scenario_titles_are_readable():
    from gcm_sim.edges.report import scenario_title

    assert scenario_title("remittance_sdg") == "Remittance SDG"
    assert scenario_title("sen_eu_package", codes=["SEN"]) == "SEN EU package"
    assert scenario_title("baseline") == "Baseline (current policies)"


def test_show_prints_settings_and_changes_against_baseline(sen_file, capsys):
    assert main(["show", "multi_entry_visas"]) == 0
    out = capsys.readouterr().out
    assert "policy.visa.default.fee_usd: null (world data) -> 80.0" in out and "question:" in out
    assert main(["show", str(sen_file)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("EU-Senegal mobility package (sen_eu_package)")
    assert "policy.pathways.labour_agreements" in out and "SEN-GRC" in out
    # what the settings do on each corridor: the world's value and the scenario's
    assert "on corridors, at full effect (baseline -> scenario):" in out
    assert "SEN-GRC regular corridor: no -> yes" in out and "SEN-FRA multi-entry visa: no -> yes" in out
    assert "SEN-FRA remittance cost (%):" in out and "SEN-FRA remittance cost (%): 3 ->" not in out
    assert main(["show", "baseline"]) == 0 and "none" in capsys.readouterr().out


@pytest.mark.slow  # about 50 s on 2 cores (two questions, a parameter screen, the PDF): `make test-slow`
def test_briefing_book_at_a_tiny_size_resumes(tmp_path, capsys):
    folder = tmp_path / "dialogue"
    folder.mkdir()
    (folder / "q1.yaml").write_text(textwrap.dedent("""\
        title: Diaspora contributions to development
        question: How can diaspora contributions be enhanced?
        kind: policy
        gcm_objectives: [19, 20]
        scenarios: [remittance_sdg]
        indicators: [remittances_received_usd, remittance_cost_pct]
        cannot_say: What households do with remittances is not modelled.
        """))
    (folder / "q2.yaml").write_text(textwrap.dedent("""\
        title: Assessing progress
        question: How can progress be assessed?
        kind: institutional
        scenarios: [remittance_sdg]
        indicators: [irregular_share]
        cannot_say: An institutional question.
        """))
    out = tmp_path / "book"
    argv = ["brief", f"dialogue={folder}", "run.households=500", "run.months=3", "run.replicates=2",
            "run.workers=1", f"hydra.run.dir={out}"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "arms 1-2 of 2 to run (baseline, remittance_sdg)" in err and "question 2/2 q2" in err
    md = (out / "book.md").read_text()
    for text in ("## Diaspora contributions to development", "### The answer, with its uncertainty",
                 "### Trade-offs", "### What the model cannot say", "What households do with remittances",
                 "### What the scorecard offers", "## Methods annex", "(95% CI",
                 "### Which uncertainty matters, and which data would reduce it"):
        assert text in md, text
    # at this tiny size the screen's effects may not be estimable; the book says which case it is
    assert ("the data that would most narrow" in md or "could be estimated at either setting" in md
            or "parameters moves this answer" in md)
    swings = pd.read_csv(out / "questions" / "q2" / "sensitivity.csv")
    assert set(swings["parameter"]) == {p[0] for p in DEFAULT_PARAMETERS} and (swings["swing"].dropna() >= 0).all()
    cached = sorted((out / "sensitivity").glob("*.csv"))
    stamps = [f.stat().st_mtime_ns for f in cached]
    assert (out / "book.html").is_file() and (out / "questions" / "q1" / "summary.csv").is_file()
    if Path(CHROMIUM).is_file():
        assert (out / "book.pdf").read_bytes()[:5] == b"%PDF-"
    stamp = (out / "arms" / "remittance_sdg" / "timeseries.parquet").stat().st_mtime_ns
    assert main(argv) == 0  # resumed: the cached arms are not run again
    assert "2 of 2 arms cached" in capsys.readouterr().err
    assert (out / "arms" / "remittance_sdg" / "timeseries.parquet").stat().st_mtime_ns == stamp
    assert [f.stat().st_mtime_ns for f in cached] == stamps  # the screen's runs too
    (folder / "q3.yaml").write_text("title: x\nquestion: y\nscenarios: [nosuch]\nindicators: [deaths]\n")
    assert main(argv) == 2 and "nosuch" in capsys.readouterr().err
    (folder / "q3.yaml").write_text("title: x\nquestion: y\nscenarios: [baseline]\nindicators: [nosuch]\n")
    assert main(argv) == 2 and "q3.yaml: indicators" in capsys.readouterr().err


def test_dialogue_questions_ship_one_file_per_question():
    from gcm_sim.edges import brief

    qs = [brief.load_question(p) for p in sorted(brief.DIALOGUE.glob("*.yaml"))]
    assert len(qs) == 11 and sum(q["kind"] == "institutional" for q in qs) == 3
    # 12 months: the climate questions' shock starts in month 12 (a shock after the horizon is refused)
    plan = brief.prepare(["run.households=1000", "run.months=12", "run.replicates=2"])  # every arm validates
    assert list(plan.arms)[0] == "baseline" and all(q["arms"] for q in plan.questions)
    assert np.isfinite(plan.cfg.run.households)


def test_run_parameters_posterior_is_a_command_line_key():
    """run.parameters and run.draws are in config.yaml, so the command line can set them."""
    import gcm_sim

    cfg = gcm_sim.load_config(overrides=["run.parameters=posterior", "run.draws=2", *TINY])
    assert (cfg.run.parameters, cfg.run.draws) == ("posterior", 2)
    assert gcm_sim.load_config().run.parameters == "point"


def test_share_and_percent_intervals_stay_inside_their_bounds():
    from gcm_sim.studies.experiment import summarise

    rows = [("baseline", 0, 0.30), ("baseline", 1, 0.98), ("arm", 0, 0.99), ("arm", 1, 1.0)]
    ind = pd.DataFrame([{"scenario": s, "replicate": r, "indicator": "youth_share_departures", "value": v}
                        for s, r, v in rows] +
                       [{"scenario": s, "replicate": r, "indicator": "remittance_cost_pct", "value": 100 * v}
                        for s, r, v in rows])
    s = summarise(ind, baseline="baseline").set_index(["scenario", "indicator"])
    for ind_name, bound in (("youth_share_departures", 1.0), ("remittance_cost_pct", 100.0)):
        base, arm = s.loc[("baseline", ind_name)], s.loc[("arm", ind_name)]
        assert 0 <= base.ci_low <= base["mean"] <= base.ci_high <= bound
        assert arm.ci_high <= bound
        assert arm.diff_ci_high <= bound - base["mean"] + 1e-9 and arm.diff_ci_low >= -base["mean"]
    # the posterior's nested intervals too (replicate r ran draw r % 2)
    vals = {"baseline": [0.30, 0.98, 0.50, 0.97], "arm": [0.99, 1.0, 0.60, 1.0]}
    nest = pd.DataFrame([{"scenario": s, "replicate": r, "indicator": "youth_share_departures", "value": v}
                         for s, vs in vals.items() for r, v in enumerate(vs)])
    s2 = summarise(nest, baseline="baseline", draws=2).set_index("scenario")
    assert (s2.ci_high <= 1).all() and (s2.ci_high_stochastic <= 1).all() and s2.ci_high.notna().all()
    assert s2.loc["arm", "diff_ci_high"] <= 1 - s2.loc["baseline", "mean"] + 1e-9


@pytest.mark.parametrize("override, key", [
    ("policy.remittances.corridors=[{origin:SEN,destination:GRC,cost_pct:3}]", "policy.remittances.corridors[0]"),
    ("policy.visa.corridors=[{origin:SEN,destination:GRC,multi_entry:true}]", "policy.visa.corridors[0]"),
    ("policy.pathways.quota_multipliers=[{origin:SEN,destination:GRC,labour:0}]",
     "policy.pathways.quota_multipliers[0]"),
])
def test_a_selector_matching_no_corridor_is_one_exit_2_error(override, key, tmp_path, capsys):
    assert main(["run", override, *TINY, f"hydra.run.dir={tmp_path / 'o'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and key in err[0] and "selects no corridor" in err[0] and "SEN-ITA" in err[0]
    assert not (tmp_path / "o").exists()  # refused before any work
    # the same entry is fine where the scenario opens the corridor (a labour agreement to GRC)
    import gcm_sim

    gcm_sim.load_config(overrides=[override, "policy.pathways.labour_agreements=[{origin:SEN,destination:GRC,"
                                             "annual_quota:10,skill:any}]"])
    # a common override that fits one arm only: the error says which arm, and how to give it to one arm
    assert main(["compare", "remittance_sdg", override, *TINY, f"hydra.run.dir={tmp_path / 'o'}"]) == 2
    assert "in arm baseline" in capsys.readouterr().err


def test_limitations_say_which_uncertainty_the_intervals_carry():
    import gcm_sim
    from gcm_sim.edges.document import limitations_markdown

    point = limitations_markdown(gcm_sim.load_config(overrides=TINY))
    post = limitations_markdown(gcm_sim.load_config(overrides=[*TINY, "run.replicates=4", "run.parameters=posterior",
                                                               "run.draws=2"]))
    assert "seeds' uncertainty" not in point and "replicates only" in point and "run.parameters=posterior" in point
    assert "2 draws from the world's posterior" in post and "replicates only" not in post
    # how much parameter uncertainty the shipped posterior can carry, read off its weights
    from gcm_sim.studies.parameters import world_posterior
    from gcm_sim.world import load_world

    ess = world_posterior(load_world()).effective_size
    assert f"worth {ess:.1f} equally weighted ones" in post
    assert ("understates the parameters' uncertainty" in post) == (ess < 10)
    assert "calibration v2" not in point + post


def test_a_posterior_comparison_reports_parameter_uncertainty(tmp_path, sen_file):
    out = tmp_path / "post"
    assert main(["compare", str(sen_file), "run.households=600", "run.months=3", "run.replicates=4",
                 "run.parameters=posterior", "run.draws=2", "report.pdf=false", f"hydra.run.dir={out}"]) == 0
    s = pd.read_csv(out / "summary.csv")
    assert {"diff_ci_low_stochastic", "diff_sd_parameter", "sd_parameter"} <= set(s.columns)
    md = (out / "report.md").read_text()
    assert "sd over posterior" in md and "2 draws from the world's posterior" in md
    assert "| behavioural parameters | posterior (2 posterior draws) |" in md
    # by origin, the intervals rest on the draws' means too: one degree of freedom, so wider than paired seeds
    from gcm_sim.studies.experiment import by_origin

    ts = pd.read_parquet(out / "timeseries.parquet")
    nested, seeds = by_origin(ts, draws=2), by_origin(ts)
    width = lambda t: (t.diff_ci_high - t.diff_ci_low).fillna(0).sum()  # noqa: E731
    on_file = pd.read_csv(out / "summary_by_origin.csv")
    assert width(on_file) == pytest.approx(width(nested)) and width(nested) >= width(seeds)


def test_output_dense_writes_the_zero_cells_and_keeps_the_columns(tmp_path, capsys):
    sparse, full = tmp_path / "sparse", tmp_path / "dense"
    for out, extra in ((sparse, []), (full, ["output.dense=true"])):
        assert main(["run", "run.households=500", "run.months=3", "run.replicates=2", "report.pdf=false", *extra,
                     f"hydra.run.dir={out}"]) == 0
    a, b = pd.read_parquet(sparse / "timeseries.parquet"), pd.read_parquet(full / "timeseries.parquet")
    assert list(a.columns) == list(b.columns) and len(b) > len(a)
    assert b.value.sum() == pytest.approx(a.value.sum())
    keys = ["origin", "destination", "channel", "sex", "age_group", "measure"]
    cells = b.groupby(["replicate", "month"]).size()
    assert cells.nunique() == 1 and cells.iloc[0] == len(b[keys].drop_duplicates())  # every cell, every month
    assert "zero cells filled in (output.dense=true)" in (full / "report.md").read_text()
    # options are checked: a misspelt one, and one the book cannot use, are exit-2 errors
    assert main(["run", "output.dnse=true", *TINY]) == 2 and "output.dense" in capsys.readouterr().err
    assert main(["brief", "report.by=corridor"]) == 2 and "report.pdf" in capsys.readouterr().err


def test_figures_draw_only_colour_blind_safe_colours(compared, monkeypatch, tmp_path):
    """Every line, band and marker of the report's figures is an Okabe-Ito colour (or black/grey)."""
    from matplotlib.colors import to_hex

    from gcm_sim.edges import report
    from gcm_sim.edges.document import PALETTE

    seen = set()

    def collect(fig, path, dpi=110):
        import matplotlib.pyplot as plt

        for ax in fig.axes:
            seen.update(to_hex(line.get_color()) for line in ax.get_lines())
            for coll in ax.collections:
                seen.update(to_hex(c) for c in coll.get_facecolor())
                seen.update(to_hex(c) for c in coll.get_edgecolor())
        plt.close(fig)
        return path

    monkeypatch.setattr(report, "save_figure", collect)
    ts = pd.read_parquet(compared / "timeseries.parquet")
    summary = pd.read_csv(compared / "summary.csv")
    titles = {"baseline": "Baseline", "sen_eu_package": "EU-Senegal", "remittance_sdg": "Remittance SDG"}
    report.write_figures(ts, tmp_path, titles=titles)
    report.write_difference(ts, tmp_path, origins=["SEN"], titles=titles)
    report.write_forest(summary, tmp_path, titles=titles)
    allowed = {c.lower() for c in PALETTE} | {"#000000", "#999999"}
    assert seen and seen <= allowed, seen - allowed


def test_the_books_parameter_screen_runs_at_point_values_when_the_book_draws_from_the_posterior():
    """The screen sets one parameter by hand, which run.parameters=posterior refuses: it had run every arm and
    then stopped with exit 2. Its runs use the point values of the parameters it does not vary."""
    import gcm_sim
    from gcm_sim.studies import sensitivity

    cfg = gcm_sim.load_config(overrides=[*TINY, "run.replicates=4", "run.parameters=posterior", "run.draws=2"])
    sized = sensitivity._sized(cfg)
    assert sized.run.parameters == "point" and sized.run.replicates == 3 and sized.run.households == 1000


def test_the_screen_says_when_no_parameter_moves_an_answer():
    """An arm that does not act on an indicator has a swing of 0 for every parameter: the book
    must say so, not call 0 points 'the largest swing'."""
    from gcm_sim.studies.sensitivity import reading

    swings = pd.DataFrame([{"arm": "border_official_training", "indicator": "irregular_departures",
                            "parameter": p, "low": 0.0, "high": 0.0, "swing": 0.0} for p in ("a", "b")]
                          + [{"arm": "digital_visa_processing", "indicator": "irregular_departures",
                              "parameter": "a", "low": -4.0, "high": -9.0, "swing": 5.0}])
    responses = pd.DataFrame([{"parameter": "a", "target": "t", "description": "sea departures", "source": "s",
                               "log_ratio": 0.5}])
    lines = reading(swings, responses)
    assert lines[0].startswith("border_official_training, irregular_departures: no effect on it at any setting")
    assert "largest" not in lines[0] and "none of the 2 parameters" in lines[0]
    assert "swing 5.0 points" in lines[1] and "sea departures (+65%)" in lines[1]
