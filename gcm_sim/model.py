"""MigrationModel: holds the state, owns the random streams and orders the monthly step.

One step is one month. ``step()`` reads as the order of events; each line is one
mechanism with one module under :mod:`gcm_sim.mechanisms` (its docstring says what it
reads and writes and where its behaviour comes from). Random numbers are keyed to
(seed, mechanism, month, entity) through :class:`gcm_sim.draws.Draws`. The model is
pure: no I/O, no Hydra, no plotting.
"""

from __future__ import annotations

import mesa
import numpy as np

from .agents.border import BorderAuthority
from .agents.employers import Employer
from .agents.migrants import Migrants
from .agents.recruiters import Recruiter, Smuggler
from .corridors import resolve
from .decisions import Weights
from .draws import Draws
from .exchange import Phases, run_local
from .keywords import KEYWORD_LEVERS, apply_keywords, check_model_args, default_config  # noqa: F401 (public names)
from .measures import Recorder, indicators
from .mechanisms import (asylum, beliefs, choice, compaction, demography, documents, hiring, income, journeys,
                         networks, onward, passage, placement, recording, regularisation, remittances, returns,
                         shocks, timing, transit, visits)
from .policy import Config
from .population import make_households, seed_stocks, seed_transit, shard_units, wage_table
from .world import World, load_world

DATACOLLECTOR_MEASURES = ("departures_regular", "departures_irregular", "departures_internal",
                          "arrivals_irregular", "deaths", "interceptions", "stock_regular", "stock_irregular",
                          "stranded_in_transit", "remittances_sent_usd", "remittances_received_usd",
                          "recruitment_fees_usd")


class MigrationModel(mesa.Model):
    """Households, migrants, recruiters, smugglers, border authorities and employers on
    a graph of origin, transit and destination countries.

    ``MigrationModel(cfg, rng=seed)`` runs a validated config; keyword levers
    (``households=5000, visa_fee_usd=60, ...``; see ``KEYWORD_LEVERS``) adjust it, so
    Mesa's ``batch_run`` and SolaraViz sliders can set them directly.

    ``branch_point=True`` stops before month 1; :meth:`branch` copies it for each config that
    shares its spin-up (experiments run one spin-up for all their arms this way).
    ``origins`` builds one shard of a sharded run (those origins' households, or (origin, block)
    pairs of origins split in blocks; set-up left in :attr:`build_phases` for the driver,
    :mod:`gcm_sim.studies.shards`).
    """

    def __init__(self, cfg: Config | None = None, *, rng=None, replicate: int = 0,
                 world: World | None = None, branch_point: bool = False, origins=None, **levers):
        check_model_args(cfg, rng, replicate, world, levers)  # a ConfigError naming the argument
        if world is None:
            world = load_world(cfg.world if cfg is not None else None)
        cfg = apply_keywords(cfg if cfg is not None else default_config(world), world, levers)
        super().__init__(rng=rng)
        self.draws = Draws.of(rng, self.rng)  # every draw keyed to (seed, stream, month, entity)
        # policy.timing: a timed scenario is built under the baseline policy and switched on
        # at its start month (mechanisms/timing.py); ``cfg`` is always the policy in force
        self.spinup_months = cfg.run.spinup_months
        self._internal_month = 0  # months stepped, spin-up included: the key of the draws
        self.scenario_cfg, self.timed = cfg, timing.is_timed(cfg)
        self.policy_fraction = 0.0 if self.timed else 1.0
        cfg = timing.baseline_of(cfg) if self.timed else cfg
        self.rules_cfg = cfg
        self.cfg, self.world, self.replicate = cfg, world, replicate
        self.b_world = dict(cfg.behaviour)
        self.b = dict(cfg.behaviour)
        documents.setup(self.b, cfg.policy)  # rates the inclusion levers change (ID, skills)
        self.rules = resolve(world, cfg)
        self.rules_baseline, self.rules_scenario = self.rules, None
        self.remittance_terms = remittances.RemittanceTerms.of(self.rules.remittance_cost_pct, self.b)
        self._country_arrays()
        self._legs()
        self.units, self.split_origins = shard_units(world, cfg, origins)  # (origin, block) pairs; None: all
        self.origins = None if origins is None else tuple(sorted({o for o, _ in self.units}))
        self.households = make_households(world, cfg, self.b, self.draws, self.units)
        if cfg.run.engine == "reference":
            from .agents.reference import ReferenceHouseholds
            self.households = ReferenceHouseholds(self, self.households)
        self.migrants = Migrants(capacity=max(1024, self.households.n // 4))
        seed_stocks(world, self.rules, self.households, self.migrants, world.member_propensity, self.b, self.draws)
        seed_transit(world, self.households, self.migrants, world.member_propensity, self.leg_months, self.draws)
        self._institutions()
        placement.setup_quotas(self)
        self.build_phases = self._settle(branch_point)
        if self.origins is None:  # one process: exchanges are answered locally
            run_local(self.build_phases)
            self.build_phases = None  # (a generator does not pickle)

    def _settle(self, branch_point: bool) -> Phases:
        """The rest of the set-up, then the spin-up (a generator: both exchange, gcm_sim.exchange)."""
        yield from networks.setup(self)  # ties start from the world's stocks and follow the run's
        yield from income.setup(self)  # programme jobs, development targeting, climate resilience
        self.weights = Weights.from_behaviour(self.b)
        self.info_boost = beliefs.info_boost(self.world, self.cfg)  # information campaigns, per origin
        self.propensity_table = placement.propensity_table(self.world, self.cfg)  # who leaves, by channel
        self._options = None
        self.recorder = Recorder(self.world.codes)
        self.month_totals: dict[str, float] = {}
        self.victims_at_start = (np.empty(0, np.int64), np.empty(0))  # in exploitation at month 1 (recording)
        compaction.setup(self)
        for _ in range(self.spinup_months):  # run.spinup_months: the baseline settles before month 1,
            yield from self.month_phases()   # unrecorded (mechanisms/recording.py) and outside Mesa's
                                             # clock, whose steps and time count reported months
        self.branch_point = bool(branch_point)
        if self.branch_point:  # refused before Mesa's clock runs (a failed event ends its schedule)
            self._clock_step, self.step = self.step, timing.refuse_step
        else:
            yield from self._enter_month_1()

    def _enter_month_1(self) -> Phases:
        yield from timing.step(self, self._internal_month + 1)  # the policy in force in month 1 (model.cfg)
        self.datacollector = mesa.DataCollector(model_reporters={
            name: (lambda m, name=name: m.month_totals.get(name, 0.0)) for name in DATACOLLECTOR_MEASURES})

    def branch(self, cfg: Config, copy: bool = True) -> "MigrationModel":
        """A model that runs ``cfg`` from month 1, continuing this branch point's spin-up; equal,
        month for month, to ``cfg`` built afresh on the same seed (:func:`timing.branch`)."""
        return timing.branch(self, cfg, copy)

    # --- the month --------------------------------------------------------------------
    @property
    def month(self) -> int:
        """The reported month of the last step (1 = the first month after the spin-up, 0 when
        none has run since; Mesa's ``steps``)."""
        return self.calendar_month(self._internal_month)

    def calendar_month(self, month: int) -> int:
        """The reported month of internal month ``month`` (internal months count the spin-up
        first and key the random draws; policy timing, shocks and records use reported ones)."""
        return month - self.spinup_months

    def step(self) -> None:
        run_local(self.month_phases())

    def month_phases(self) -> Phases:
        """One month; yields where it needs every shard's part (:mod:`gcm_sim.exchange`)."""
        self._internal_month += 1
        month = self._internal_month  # internal: spin-up months first (run.spinup_months)
        yield from timing.step(self, month)     # the scenario's policy takes effect (policy.timing)
        demography.step(self, month)            # returnees rejoin their households; people abroad age
        shocks.step(self, month)                # climate shocks cut income and assets
        yield from income.step(self, month)     # income, programmes, saving; quotas top up
        movers = choice.step(self, month)       # who considers, what they choose
        yield from placement.step(self, movers, month)  # internal moves; quotas, visas, recruiters
        passage.step(self, movers, month)       # smugglers sell passage; journeys start
        journeys.step(self, month)              # visas come through; legs: interception, death
        transit.step(self, month)               # detention, alternatives, stranded people
        heard = yield from asylum.step(self, month, beliefs.counts_exchange(self))  # claims, removals
        regularisation.step(self, month)        # people without status who qualify become regular
        onward.step(self, month)                # people without a settled status move on
        visits.step(self, month)                # visits end or become overstays
        hiring.step(self, month)                # employers: regular jobs, informal work
        remittances.step(self, month)           # formal and informal transfers home
        returns.step(self, month)               # return decisions
        yield from networks.step(self, month)   # diaspora ties follow the diaspora (cumulative causation)
        beliefs.step(self, month, heard)        # what people hear about the routes; prices
        recording.step(self, month)             # the contract's measures
        compaction.step(self, month)            # records whose story is over leave the arrays
        if self.month >= 1:                     # after the spin-up (run.spinup_months)
            self.datacollector.collect(self)

    # --- set-up -------------------------------------------------------------------------
    def _country_arrays(self) -> None:
        t = self.world.countries
        col = lambda name: t[name].to_numpy(float)  # noqa: E731
        self.wage = wage_table(self.world)
        self.informal_penalty = col("informal_wage_penalty_pct") / 100
        self.insecurity = col("insecurity")
        self.growth = col("income_growth_pct") / 100
        self.recognition = col("asylum_recognition_rate")
        self.asylum_system = col("asylum_decisions_month") > 0
        self.no_settlement = np.isin(np.arange(len(t)), [self.world.index[c] for c in self.world.select("gcc")])
        self.p_claim = np.clip(self.b["claim_base"] + self.b["claim_insecurity"] * self.insecurity, 0, 1)
        self.community = 100.0 * self.rules.diaspora_stock / col("population")[:, None]  # diaspora per 100 at home
        # price level (market USD per PPP dollar) and the monthly subsistence need per person at
        # home in the model's market dollars: the international poverty line (decisions.credit_usd)
        self.price_level = col("gdp_per_capita_usd") / np.maximum(col("gni_per_capita_ppp_usd"), 1.0)
        self.subsistence_person_month = self.b["subsistence_usd_ppp_day"] * 365.0 / 12.0 * self.price_level
        self.p_employed_regular = self.b["job_find_regular"] / (self.b["job_find_regular"] + self.b["job_loss"])
        timing.policy_arrays(self)  # readmission, informal work: what the policy in force sets

    def _legs(self) -> None:
        legs, idx = self.world.legs, self.world.index
        self.leg_from = np.array([idx[c] for c in legs["from"]], dtype=np.int16)
        self.leg_to = np.array([idx[c] for c in legs["to"]], dtype=np.int16)
        self.leg_by_to = (legs["intercepted_by"] == "to").to_numpy()
        self.leg_pushback = legs["pushback"].to_numpy(bool)
        self.leg_months = legs["travel_months"].to_numpy(np.float32)
        self.leg_interception, self.leg_death = journeys.leg_probabilities(legs, self.cfg.policy.enforcement, self.b)
        routes = self.world.routes
        self.route_length = np.array([len(r.legs) for r in routes], dtype=np.int8)
        self.route_legs = np.zeros((max(len(routes), 1), 6), dtype=np.int16)
        for i, r in enumerate(routes):
            self.route_legs[i, : len(r.legs)] = r.legs
        self.belief_interception = self.leg_interception.copy()
        self.belief_death = self.leg_death.copy()
        for name in beliefs.LEG_COUNTERS:  # this month's [origin, leg] counts (journeys), read by beliefs.step
            setattr(self, name, np.zeros((len(self.world.codes), len(legs))))
        self.heard_retries = np.zeros(len(legs))  # smoothed retries and interceptions households hear of
        self.heard_caught = np.zeros(len(legs))
        self.belief_retry = np.full(len(legs), float(self.b["prior_retry_share"]))  # beliefs.step
        self.base_leg_fee = legs["smuggling_fee_usd"].to_numpy(float)      # the world's, before any policy
        self.base_interception = legs["interception_prob"].to_numpy(float)
        self.route_origin = np.array([idx[r.origin] for r in routes], dtype=np.int64)
        self.route_dest = np.array([idx[r.destination] for r in routes], dtype=np.int64)
        self.reentry_ratio = np.ones((len(self.world.codes), len(self.world.codes)))  # beliefs.reentry_ratio
        self.leg_history: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []  # per month (beliefs)

    def _institutions(self) -> None:
        w, b, t = self.world, self.b, self.world.countries
        self.recruiters = {w.index[c]: Recruiter(self, w.index[c], t.at[c, "unlicensed_recruiter_share"], b)
                           for c in w.with_role("origin")
                           if self.origins is None or w.index[c] in self.origins}  # a shard's own
        self.smugglers = [Smuggler(self, i, leg["smuggling_fee_usd"], leg["interception_prob"], b)
                          for i, leg in w.legs.iterrows()]
        for s in self.smugglers:
            s.set_price(float(self.belief_interception[s.leg]))
        self.leg_price = np.array([s.price_usd for s in self.smugglers])
        self.borders = {w.index[c]: BorderAuthority(self, w.index[c], t.loc[c], b)
                        for c in w.codes if {"transit", "destination"} & set(t.at[c, "roles"])}
        self.employers = [Employer(self, w.index[c], s, self.wage[w.index[c], s],
                                   self.informal_penalty[w.index[c]], t.at[c, "informal_job_rate_pct"] / 100, b)
                          for c in w.codes if {"transit", "destination"} & set(t.at[c, "roles"]) for s in range(3)]

    # --- views for notebooks, tests and the dashboard ----------------------------------------
    def options(self) -> dict[int, object]:
        """This month's options per origin (:func:`gcm_sim.mechanisms.choice.options`)."""
        return choice.options(self)

    def choice_probabilities(self, o: int, opts, sel: np.ndarray, earnings: np.ndarray | None = None):
        """P(move) [n], P(option | move) [n, K] and feasibility [n, K] of households ``sel``."""
        _, p_move, within, feasible = choice.probabilities(self, o, opts, sel, earnings)
        return p_move, within, feasible

    def timeseries(self):
        """The run's measures as a long DataFrame (timeseries.parquet schema)."""
        return self.recorder.frame(self.cfg.scenario.name, self.replicate, self.cfg.run.seed)

    def indicators(self) -> dict[str, float]:
        return indicators(self.recorder)

    def people_by_state(self) -> dict[str, float]:
        """Real people in each state (conservation: the total never changes)."""
        return recording.people_by_state(self)
