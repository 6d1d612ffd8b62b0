"""Timing: the scenario's policy takes effect from ``policy.timing.start_month``, phased in
over ``policy.timing.phase_in_months`` (docs/decisions.md, "Timing switches the policy").

A timed model is built under the baseline policy (``model.cfg`` is the scenario's config
with ``policy`` at its defaults), so the months before the start are the baseline run on
the same seed, draw for draw. From the start month :func:`step` puts the policy in force
as a fraction ``f`` (0 before the start, rising linearly to 1 over the phase-in) and
:func:`apply` re-derives every policy-dependent part of the model from it: the corridor
rules (visas, quotas, remittance costs, blended array by array between the baseline's and
the scenario's, :func:`gcm_sim.corridors.blend`), quota budgets (places carried over),
remittance terms, document and recognition rates, leg interception and death
probabilities, readmission, informal hiring under sanctions, recruiters' unlicensed
share, smugglers' costs, border authorities' detention, removal and detection rates,
development programmes, information campaigns and who leaves by channel. Numeric levers
outside the corridor tables move linearly (:func:`mix_policy`); step-only levers
(:data:`gcm_sim.policy.STEP_ONLY_LEVERS`) are refused with a phase-in at validation.

People already abroad keep what their entry gave them (a visa's multi-entry status, an
employer); new entrants, and every mechanism's monthly rates, follow the policy in force.
With a spin-up (``run.spinup_months``, months run before month 1 and not reported) every
policy other than the baseline's is timed: the spin-up is the baseline, draw for draw, and
the policy takes effect at reported month 1 (or its start month). Untimed configs (the
baseline policy, or no spin-up with start 1 and no phase-in) are built under their own
policy and never call :func:`apply`. Since every arm's spin-up is the same baseline,
:func:`branch` lets the arms of an experiment share one (:func:`spinup_config` says which
configs can). No random numbers.
"""

from __future__ import annotations

import dataclasses
import types

import numpy as np

from ..corridors import blend, resolve
from ..exchange import run_local
from ..policy import Config, ConfigError, Meta, Policy


def fraction(timing, month: int) -> float:
    """Share of the policy in force in ``month``: 0 before the start, then linear over the phase-in."""
    if month < timing.start_month:
        return 0.0
    if timing.phase_in_months <= 0:
        return 1.0
    return min(1.0, (month - timing.start_month + 1) / timing.phase_in_months)


def is_timed(cfg: Config) -> bool:
    """Whether the model is built under the baseline policy and switched on later: a start
    after month 1, a phase-in, or a spin-up before month 1 (run.spinup_months) under a policy
    that is not the baseline's."""
    t = cfg.policy.timing
    return t.start_month > 1 or t.phase_in_months > 0 or (cfg.run.spinup_months > 0 and cfg.policy != Policy())


def spinup_config(cfg: Config) -> Config | None:
    """What ``cfg``'s spin-up runs under: the same run, world, climate and behaviour with the
    baseline policy and no scenario description (``run.spinup_months`` > 0; None without a
    spin-up). Configs whose spin-up configs are equal run the same spin-up, draw for draw, on
    each replicate's seed, so one spin-up can serve them all (``MigrationModel.branch``)."""
    if cfg.run.spinup_months <= 0:
        return None
    return dataclasses.replace(cfg, policy=Policy(), scenario=Meta(), expect=types.MappingProxyType({}))


def branch(model, cfg: Config, copy: bool = True):
    """A model that runs ``cfg`` from month 1, continuing the spin-up of ``model`` (made with
    ``branch_point=True``).

    ``cfg`` must share the spin-up (equal :func:`spinup_config`): the same run settings, world,
    climate and behaviour; only the policy and the scenario's description may differ. Every
    part built at set-up is then the baseline policy's for both, and the arm's policy enters
    through :func:`step` at month 1, as it would in a model built from ``cfg``; so the branch
    equals ``MigrationModel(cfg, rng=seed, replicate=r)`` on the same seed, month for month
    (docs/decisions.md, "One spin-up per replicate"). ``copy=False`` turns ``model`` itself
    into the branch (no copy; the branch point is used up).
    """
    import copy as copying

    if not getattr(model, "branch_point", False):
        raise ValueError("branch() needs a model made with branch_point=True that has not been branched "
                         "with copy=False")
    if not isinstance(cfg, Config):
        raise ConfigError("cfg", type(cfg).__name__, "a gcm_sim.Config")
    if model.spinup_months <= 0:
        raise ConfigError("run.spinup_months", 0, "branching needs a spin-up of at least 1 month")
    if spinup_config(cfg) != spinup_config(model.scenario_cfg):
        raise ConfigError("cfg", cfg.scenario.name, "a config with the same spin-up as the branch point "
                          "(same run, world, climate and behaviour; only policy and scenario may differ)")
    shared = (model.world, model.cfg, model.scenario_cfg, model.rules_cfg)  # immutable: not copied
    new = copying.deepcopy(model, {id(x): x for x in shared}) if copy else model
    new.branch_point = False
    new.step = new._clock_step  # Mesa's clock again (MigrationModel.__init__)
    new.scenario_cfg, new.timed = cfg, is_timed(cfg)
    new.policy_fraction = 0.0 if new.timed else 1.0
    new.cfg = new.rules_cfg = baseline_of(cfg) if new.timed else cfg
    run_local(new._enter_month_1())
    return new


def refuse_step() -> None:
    """``step()`` of a branch point (``MigrationModel(..., branch_point=True)``)."""
    raise ValueError("a model made with branch_point=True steps no further: run branch(cfg)")


def baseline_of(cfg: Config) -> Config:
    """The config a timed model is built under: the same run, the policy at its defaults."""
    return dataclasses.replace(cfg, policy=Policy())


def mix_policy(base, scen, f: float):
    """A policy ``f`` of the way from ``base`` to ``scen``: float levers linearly, the rest
    (lists, selectors, yes/no, whole numbers, timing, regularisation) as the scenario's."""
    if f >= 1:
        return scen
    if not dataclasses.is_dataclass(base):
        if isinstance(base, float) and isinstance(scen, float) and not isinstance(base, bool):
            return base + f * (scen - base)
        return scen
    values = {}
    for fld in dataclasses.fields(base):
        a, b = getattr(base, fld.name), getattr(scen, fld.name)
        values[fld.name] = b if fld.name in ("timing", "regularisation") else mix_policy(a, b, f)
    return type(base)(**values)


def step(model, month: int):
    """Put the policy in force for this month when its share changes (a generator: the set-up of the
    development levers exchanges across shards, :mod:`gcm_sim.exchange`)."""
    if not model.timed:
        return
    f = fraction(model.scenario_cfg.policy.timing, model.calendar_month(month))
    if f == model.policy_fraction:
        return
    if model.rules_scenario is None:
        model.rules_scenario = resolve(model.world, model.scenario_cfg)
    cfg = dataclasses.replace(model.scenario_cfg,
                              policy=mix_policy(model.rules_cfg.policy, model.scenario_cfg.policy, f))
    yield from apply(model, cfg, blend(model.rules_baseline, model.rules_scenario, f))
    model.policy_fraction = f


def apply(model, cfg: Config, rules):
    """Re-derive the policy-dependent state of ``model`` under ``cfg`` with corridor ``rules``."""
    from . import beliefs, documents, income, journeys, placement, remittances

    model.cfg = cfg
    b = model.b
    for name in ("irregular_id_share", "skill_recognition"):
        b[name] = model.b_world[name]
    documents.setup(b, cfg.policy)
    model.rules = rules
    model.remittance_terms = remittances.RemittanceTerms.of(rules.remittance_cost_pct, b)
    policy_arrays(model)
    model.leg_interception, model.leg_death = journeys.leg_probabilities(model.world.legs, cfg.policy.enforcement, b)
    enf, rec = cfg.policy.enforcement, cfg.policy.recruitment
    for r in model.recruiters.values():
        r.set_policy(rec, enf, b)
    for s in model.smugglers:
        s.set_policy(enf, b)
    for a in model.borders.values():
        a.set_policy(enf, b)
    for e in model.employers:
        e.set_policy(enf, b)
    placement.update_quotas(model)
    yield from income.setup(model)
    model.info_boost = beliefs.info_boost(model.world, cfg)
    model.propensity_table = placement.propensity_table(model.world, cfg)
    model._options = None  # rebuilt from the new rules and quotas this month
    np.fill_diagonal(model.rules.exists, False)


def policy_arrays(model) -> None:
    """Country arrays the policy in force sets: readmission; informal work under sanctions."""
    t, b = model.world.countries, model.b
    col = lambda name: t[name].to_numpy(float)  # noqa: E731
    rate = model.cfg.policy.enforcement.returns.readmission_rate
    model.readmission = col("readmission_rate") if rate is None else np.full(len(t), rate)
    sanctions = model.cfg.policy.enforcement.employer_sanctions
    inf_rate = col("informal_job_rate_pct") / 100 * (1 - b["sanction_hiring_effect"] * sanctions)
    inf_loss = b["job_loss"] * (1 + b["sanction_separation_effect"] * sanctions)
    model.p_employed_informal = inf_rate / np.maximum(inf_rate + inf_loss, 1e-9)
