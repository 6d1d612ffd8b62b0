"""MigrationModel: builds the world, owns the random generator and orders the monthly step.

One step is one month. ``step()`` reads as the order of events; each line is one
mechanism with one owner (see the modules it calls). The model is pure: no I/O,
no Hydra, no plotting.
"""

from __future__ import annotations

import mesa
import numpy as np

from . import abroad, gcm_levers, journeys
from .agents.border import BorderAuthority
from .agents.employers import Employer
from .agents.households import member_draw, member_sex_age
from .agents.migrants import Migrants
from .agents.recruiters import Recruiter, Smuggler
from .categories import FAMILY, HUMANITARIAN, INTERNAL, LABOUR, PENDING, SMUGGLED, TRANSIT, VISITOR
from .corridors import resolve
from .decisions import Weights, choose_from, nest_probabilities, option_utilities, shares_from
from .measures import Recorder, indicators
from .options import Context, build
from .policy import Config, build_config, to_dict
from .population import make_households, seed_stocks, wage_table
from .world import World, load_world

# Keyword levers for Mesa's batch_run and SolaraViz sliders (docs/levers.md): name -> config key
KEYWORD_LEVERS = {
    "households": "run.households",
    "months": "run.months",
    "engine": "run.engine",
    "visa_required": "policy.visa.default.required",
    "visa_fee_usd": "policy.visa.default.fee_usd",
    "visa_refusal_rate": "policy.visa.default.refusal_rate",
    "visa_processing_months": "policy.visa.default.processing_months",
    "multi_entry": "policy.visa.default.multi_entry",
    "remittance_cost_pct": "policy.remittances.cost_pct",
    "fee_cap_months": "policy.recruitment.fee_cap_months",
    "employer_pays": "policy.recruitment.employer_pays",
    "licensing_enforcement": "policy.recruitment.licensing_enforcement",
    "interception_multiplier": "policy.enforcement.interception_multiplier",
    "anti_smuggling": "policy.enforcement.anti_smuggling",
    "search_and_rescue": "policy.enforcement.search_and_rescue",
    "employer_sanctions": "policy.enforcement.employer_sanctions",
    "alternatives_share": "policy.enforcement.detention.alternatives_share",
    "readmission_rate": "policy.enforcement.returns.readmission_rate",
    "reintegration_usd": "policy.enforcement.returns.reintegration_usd",
    "origin_employment": "policy.development.origin_employment",
    "vocational_training": "policy.development.vocational_training",
    "family_quota_multiplier": "policy.pathways.family_reunification.quota_multiplier",
    "early_assistance": "climate.early_assistance",
}
# a climate shock from keywords: climate_origin (ISO3 or tag) plus these
SHOCK_KEYWORDS = {"climate_origin": "origin", "climate_start_month": "start_month",
                  "climate_duration_months": "duration_months", "climate_income_loss_pct": "income_loss_pct",
                  "climate_asset_loss_pct": "asset_loss_pct"}
# extra annual work visas (real people) on every origin -> destination corridor row of the world
LABOUR_QUOTA_KEYWORD = "labour_agreement_quota"
PROPENSITY_NAME = ("labour", "family", "humanitarian", "visitor", "regional", "smuggled", "overstay")


def default_config(world: World) -> Config:
    return build_config({}, world.iso3, world.tags, world.behaviour)


def apply_keywords(cfg: Config, world: World, levers: dict) -> Config:
    """Set keyword levers on a config and validate the result like any other config."""
    if not levers:
        return cfg
    raw = to_dict(cfg)
    shock = {}
    for name, value in levers.items():
        if name in SHOCK_KEYWORDS:
            shock[SHOCK_KEYWORDS[name]] = value
            continue
        if name == LABOUR_QUOTA_KEYWORD:
            if value:  # one agreement per corridor row; validation checks the quota's range
                raw["policy"]["pathways"]["labour_agreements"] = list(raw["policy"]["pathways"]["labour_agreements"]) + [
                    {"origin": [o], "destination": [d], "annual_quota": value, "skill": "any"}
                    for o, d in zip(world.corridors["origin"], world.corridors["destination"])]
            continue
        if name not in KEYWORD_LEVERS:
            from .policy import ConfigError
            raise ConfigError(name, value, "unknown keyword lever; allowed: "
                              + ", ".join(sorted([*KEYWORD_LEVERS, *SHOCK_KEYWORDS, LABOUR_QUOTA_KEYWORD])))
        node = raw
        *path, leaf = KEYWORD_LEVERS[name].split(".")
        for part in path:
            node = node[part]
        node[leaf] = value
    if shock:
        raw["climate"]["shocks"] = list(raw["climate"]["shocks"]) + [shock]
    raw["behaviour"] = dict(cfg.behaviour)
    return build_config(raw, world.iso3, world.tags, world.behaviour)


def ration(weight: np.ndarray, budget: float, rng: np.random.Generator) -> np.ndarray:
    """First come, first served within a budget of real people.

    Applicants whose cumulative weight fits are admitted; the one that crosses the
    budget is admitted with probability (room left / its weight), so admissions equal
    the budget in expectation whatever the household weights.
    """
    cum = np.cumsum(weight)
    ok = cum <= budget
    k = int(ok.sum())
    if k < len(weight) and budget > 0:
        room = budget - (cum[k - 1] if k else 0.0)
        ok[k] = rng.random() < room / weight[k]
    return ok


class MigrationModel(mesa.Model):
    """Households, migrants, recruiters, smugglers, border authorities and employers on
    a graph of origin, transit and destination countries.

    ``MigrationModel(cfg, rng=seed)`` runs a validated config; keyword levers
    (``households=5000, visa_fee_usd=60, ...``; see ``KEYWORD_LEVERS``) adjust it, so
    Mesa's ``batch_run`` and SolaraViz sliders can set them directly.
    """

    def __init__(self, cfg: Config | None = None, *, rng=None, replicate: int = 0,
                 world: World | None = None, **levers):
        if world is None:
            world = load_world(cfg.world if cfg is not None else None)
        cfg = apply_keywords(cfg if cfg is not None else default_config(world), world, levers)
        super().__init__(rng=rng)
        # Who considers a move and what they draw get a stream of their own (a child of the
        # model's seed): two runs on the same seed that differ in policy then put the same
        # households before the same choices each month, however many draws the policy's
        # own mechanisms used (common random numbers; Law 2015, Simulation Modeling and
        # Analysis, 11.2). Paired differences between scenarios get much less noisy.
        (self.decision_rng,) = self.rng.spawn(1)
        self.cfg, self.world, self.replicate = cfg, world, replicate
        self.b = dict(cfg.behaviour)
        gcm_levers.effective_behaviour(self.b, cfg.policy)  # rates GCM levers change (ID, skills, detection)
        self.rules = resolve(world, cfg)
        self.remittance_terms = abroad.RemittanceTerms.of(self.rules.remittance_cost_pct, self.b)
        self._country_arrays()
        self._legs()
        if cfg.run.engine == "reference":
            from .agents.reference import ReferenceHouseholds
            self.households = ReferenceHouseholds(self, make_households(world, cfg, self.b, self.rng))
        else:
            self.households = make_households(world, cfg, self.b, self.rng)
        self.migrants = Migrants(capacity=max(1024, cfg.run.households // 4))
        seed_stocks(world, self.rules, self.households, self.migrants, world.member_propensity, self.b, self.rng)
        self._institutions()
        self._quotas()
        self._development()
        self.weights = Weights.from_behaviour(self.b)
        self.info_boost = gcm_levers.info_boost(world, cfg)  # information campaigns, per origin
        self.propensity_table = gcm_levers.propensity_table(world, cfg)  # who leaves, by channel
        self._options = None
        self.recorder = Recorder(world.codes)
        self.month_totals: dict[str, float] = {}
        self.datacollector = mesa.DataCollector(model_reporters={
            name: (lambda m, name=name: m.month_totals.get(name, 0.0))
            for name in ("departures_regular", "departures_irregular", "departures_internal",
                         "arrivals_irregular", "deaths", "interceptions", "stock_regular", "stock_irregular",
                         "stranded_in_transit", "remittances_sent_usd", "remittances_received_usd",
                         "recruitment_fees_usd")})

    # --- the month --------------------------------------------------------------------
    def step(self) -> None:
        month = self.steps
        self.climate_strike(month)                  # shocks cut income and assets
        self.earn_and_save(month)                   # income, programmes, remittances saved
        movers = self.decide(month)                 # who considers, what they choose
        self.place_regular(movers, month)           # recruiters, visas, quotas, deception
        self.sell_passage(movers)                   # smugglers: prices respond to enforcement
        journeys.depart_pending(self, month)        # visas come through: regular departures
        journeys.travel(self, month)                # legs: interception, death, stranding
        journeys.wait_in_transit(self, month)       # detention, alternatives, stranded people
        abroad.border_process(self, month)          # asylum, removals, trafficking detection
        abroad.visits(self)                         # visits end or become overstays
        self.hire()                                 # employers: regular jobs, informal work
        abroad.remit_and_return(self)               # formal/informal transfers, returns
        journeys.update_leg_beliefs(self)           # what people hear about the routes
        self.record(month)                          # the contract's measures
        self.datacollector.collect(self)

    # --- set-up helpers -----------------------------------------------------------------
    def _country_arrays(self) -> None:
        t = self.world.countries
        col = lambda name: t[name].to_numpy(float)  # noqa: E731
        self.wage = wage_table(self.world)
        self.informal_penalty = col("informal_wage_penalty_pct") / 100
        self.insecurity = col("insecurity")
        self.growth = col("income_growth_pct") / 100
        self.recognition = col("asylum_recognition_rate")
        rate = self.cfg.policy.enforcement.returns.readmission_rate
        self.readmission = col("readmission_rate") if rate is None else np.full(len(t), rate)
        self.asylum_system = col("asylum_decisions_month") > 0
        self.no_settlement = np.isin(np.arange(len(t)), [self.world.index[c] for c in self.world.select("gcc")])
        self.p_claim = np.clip(self.b["claim_base"] + self.b["claim_insecurity"] * self.insecurity, 0, 1)
        pop = col("population")
        self.community = 100.0 * self.rules.diaspora_stock / pop[:, None]  # diaspora per 100 at home
        sanctions = self.cfg.policy.enforcement.employer_sanctions
        inf_rate = col("informal_job_rate_pct") / 100 * (1 - self.b["sanction_hiring_effect"] * sanctions)
        inf_loss = self.b["job_loss"] * (1 + self.b["sanction_separation_effect"] * sanctions)
        self.p_employed_informal = inf_rate / np.maximum(inf_rate + inf_loss, 1e-9)
        self.p_employed_regular = self.b["job_find_regular"] / (self.b["job_find_regular"] + self.b["job_loss"])

    def _legs(self) -> None:
        legs, idx = self.world.legs, self.world.index
        self.leg_from = np.array([idx[c] for c in legs["from"]], dtype=np.int16)
        self.leg_to = np.array([idx[c] for c in legs["to"]], dtype=np.int16)
        self.leg_by_to = (legs["intercepted_by"] == "to").to_numpy()
        self.leg_months = legs["travel_months"].to_numpy(np.float32)
        self.leg_interception, self.leg_death = journeys.leg_probabilities(legs, self.cfg.policy.enforcement, self.b)
        routes = self.world.routes
        self.route_length = np.array([len(r.legs) for r in routes], dtype=np.int8)
        self.route_legs = np.zeros((max(len(routes), 1), 6), dtype=np.int16)
        for i, r in enumerate(routes):
            self.route_legs[i, : len(r.legs)] = r.legs
        self.belief_interception = self.leg_interception.copy()
        self.belief_death = self.leg_death.copy()
        self.leg_attempts = np.zeros(len(legs))
        self.leg_interceptions = np.zeros(len(legs))
        self.leg_deaths = np.zeros(len(legs))

    def _institutions(self) -> None:
        w, b, t = self.world, self.b, self.world.countries
        self.recruiters = {w.index[c]: Recruiter(self, w.index[c], t.at[c, "unlicensed_recruiter_share"], b)
                           for c in w.with_role("origin")}
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

    def _quotas(self) -> None:
        """Quota budgets in real people, topped up monthly (stochastic use keeps the annual mean)."""
        r, n = self.rules, len(self.world.codes)
        keys, annual = {}, []
        for o in self.recruiters:
            for d in range(n):
                if o == d:
                    continue
                for kind, q in (("labour", r.labour_quota_year[o, d]), ("skills", r.skills_quota_year[o, d]),
                                ("family", r.family_quota_year[o, d] if r.exists[o, d] else 0.0),
                                ("humanitarian", r.humanitarian_quota_year[o, d])):
                    if q > 0:
                        keys[(kind, o, d)] = len(annual)
                        annual.append(q)
                for level in range(3):
                    q = r.labour_skill_quota_year[level, o, d]
                    if q > 0:
                        keys[("labour_skill", o, d, level)] = len(annual)
                        annual.append(q)
        self.quota_keys = keys
        self.quota_annual = np.asarray(annual, dtype=float)
        # unused places carry over up to half a year's quota, or two households' weight when a
        # simulated household stands for more people than that (so rationing stays unbiased)
        w_origin = np.array([self.households.weight[self.households.country == k[1]].max() for k in keys])
        self.quota_cap = np.maximum(self.quota_annual / 2, 2 * w_origin) if keys else np.zeros(0)
        self.quota_budget = self.quota_annual / 12.0
        self.quota_demand = self.quota_annual / 12.0  # smoothed monthly applicants, real people
        self.expected_demand = np.zeros_like(self.quota_annual)

    def _development(self) -> None:
        dev = self.cfg.policy.development
        sel = np.isin(self.households.country, [self.world.index[c] for c in self.world.select(dev.origin)])
        self.development_mask = sel & np.isin(self.households.country, list(self.recruiters))
        hh = self.households
        if dev.origin_employment > 0:
            poor = hh.income_usd < np.median(hh.income_usd)
            pick = self.development_mask & poor & (self.rng.random(hh.n) < dev.origin_employment / 0.5)
            hh.programme[pick] = True
        gcm_levers.enrol(self)  # youth programmes, development budget, climate resilience
        self.programme_income = self.b["programme_income_share"] * self.wage[hh.country, 0]

    # --- monthly mechanisms -----------------------------------------------------------
    def climate_strike(self, month: int) -> None:
        """Shocks that start this month hit exposed households of their origins (GCM objective 2)."""
        hh, climate = self.households, self.cfg.climate
        hh.recover(month)
        for s in climate.shocks:
            if s.start_month != month:
                continue
            origins = [self.world.index[c] for c in self.world.select(s.origin)]
            exposed = np.isin(hh.country, origins) & hh.exposed
            if s.exposed_share is not None:
                exposed = np.isin(hh.country, origins) & hh.rural & (self.rng.random(hh.n) < s.exposed_share)
            idx = np.flatnonzero(exposed)
            assisted = self.rng.random(len(idx)) < climate.early_assistance
            assisted |= self.resilient[idx]  # resilience investments cut losses as assistance does
            hh.strike(idx, month, s.duration_months, s.income_loss_pct / 100, s.asset_loss_pct / 100,
                      assisted, self.b["early_assistance_effect"])

    def earn_and_save(self, month: int) -> None:
        hh, dev = self.households, self.cfg.policy.development
        if dev.vocational_training > 0:
            hh.train(dev.vocational_training / 12, self.b["training_income_gain"], self.development_mask, self.rng)
        growth = (1 + self.growth) ** (month / 12)
        hh.earn_and_save(growth, self.b["saving_rate"], self.programme_income)
        self.quota_budget = np.minimum(self.quota_budget + self.quota_annual / 12, self.quota_cap)

    def options(self) -> dict[int, object]:
        """This month's options per origin: built once, refreshed monthly (prices, beliefs, quotas)."""
        ctx = self._context()
        if self._options is None:
            self._options = {o: build(o, self.world, self.rules, self.quota_keys, ctx, self.b, True)
                             for o in self.recruiters}
        else:
            for opts in self._options.values():
                opts.refresh(ctx, self.b)
        return self._options

    def _context(self) -> Context:
        return Context(wage=self.wage, informal_penalty=self.informal_penalty,
                      p_employed_regular=self.p_employed_regular, p_employed_informal=self.p_employed_informal,
                      p_protection=self.p_claim * self.recognition, asylum_system=self.asylum_system,
                      leg_price_usd=self.leg_price, leg_interception=self.belief_interception,
                      leg_death=self.belief_death,
                      recruiter_fee=lambda o, fee, wage: self.recruiters[o].expected_fee(fee, wage),
                      skill_recognition=self.b["skill_recognition"],
                      family_processing_months=self._family_processing(),
                      quota_chance=np.minimum(1.0, (self.quota_annual / 12) / np.maximum(self.quota_demand, 1e-9)))

    def _family_processing(self) -> float:
        months = self.cfg.policy.pathways.family_reunification.processing_months
        return self.b["family_processing_months"] if months is None else months

    def decide(self, month: int) -> list[tuple[int, object, np.ndarray, np.ndarray]]:
        """Households that consider a move choose among their feasible options."""
        hh = self.households
        if self.cfg.run.engine == "reference":
            return hh.decide(self)
        considering = self.considering()
        return self.choose_for(considering)

    def considering(self) -> np.ndarray:
        """Rows of the households that consider a move this month, in row order.

        Each household considers with its monthly hazard: the country's base rate
        raised by insecurity, times ``shock_consider_boost`` while a climate shock cuts
        its income. Households that do not consider must cost almost nothing, so the
        Bernoulli draws are made per country block by drawing how many candidates
        there are (binomial at the block's highest hazard), which rows (without
        replacement) and thinning the candidates to their own hazard: the same law as
        one uniform per household, at a cost proportional to the considerers.
        """
        hh, rng, b = self.households, self.decision_rng, self.b
        boost = b["shock_consider_boost"]
        shocked_in = np.bincount(hh.country[hh.shocked], minlength=len(self.world.codes)) > 0
        out = []
        for c, lo, hi in hh.blocks():
            base = b["consider_rate"] * (1 + b["insecurity_consider_boost"] * self.insecurity[c])
            top = min(1.0, base * max(boost, 1.0)) if shocked_in[c] else min(1.0, base)
            cand = lo + rng.choice(hi - lo, rng.binomial(hi - lo, top), replace=False)
            if shocked_in[c]:
                hazard = np.where(hh.shock_loss[cand] > 0, min(1.0, base * boost), min(1.0, base))
                cand = cand[rng.random(len(cand)) * top < hazard]
            out.append(np.sort(cand))
        return np.concatenate(out) if out else np.empty(0, np.int64)

    def choose_for(self, considering: np.ndarray) -> list[tuple[int, object, np.ndarray, np.ndarray]]:
        """The choice kernel for the given households, grouped by origin: (origin, options, hh, column)."""
        hh, out = self.households, []
        if not len(considering):
            return out
        opts_by_origin = self.options()
        country = hh.country[considering]
        earnings_all = hh.earnings_per_adult_of(considering)
        for o, opts in opts_by_origin.items():
            mine = country == o
            sel = considering[mine]
            earnings = earnings_all[mine]
            if not len(sel) or not len(opts):
                continue
            p_move, within, feasible = self.choice_probabilities(o, opts, sel, earnings)
            self.add_expected_demand(opts, p_move, within, hh.weight[sel])
            col = choose_from(p_move, within, feasible, self.decision_rng.random(len(sel)))
            go = col >= 0
            if go.any():
                out.append((o, opts, sel[go], col[go]))
        return out

    def choice_probabilities(self, o: int, opts, sel: np.ndarray, earnings: np.ndarray | None = None):
        """Nested-logit probabilities of households ``sel`` of origin ``o`` over ``opts``:
        P(move) [n], P(option | move) [n, K] and feasibility [n, K]."""
        hh = self.households
        if earnings is None:
            earnings = hh.earnings_per_adult_of(sel)
        dest = opts.dest.astype(np.int64)
        ties = hh.abroad[sel][:, dest] + self.community[o, dest][None, :]
        regular_tie = hh.abroad_regular[sel][:, dest] > 0
        quota_open = (opts.quota < 0) | (self.quota_budget[np.maximum(opts.quota, 0)] > 0)
        u, feasible = option_utilities(
            opts, hh.skill[sel], earnings,
            hh.income_usd[sel], hh.assets_usd[sel], ties, regular_tie, float(self.insecurity[o]),
            hh.rural[sel], hh.shock_loss[sel], quota_open, float(self.info_boost[o]), self.weights)
        return (*nest_probabilities(u, feasible, self.weights.nest), feasible)

    def add_expected_demand(self, opts, p_move: np.ndarray, within: np.ndarray, weight: np.ndarray) -> None:
        """Expected applicants per quota: choice probabilities x household weights."""
        rationed = opts.quota >= 0
        if rationed.any():
            shares = shares_from(p_move, within)[:, 1:]
            np.add.at(self.expected_demand, opts.quota[rationed], weight @ shares[:, rationed])

    def place_regular(self, movers, month: int) -> None:
        """Internal moves; regular applications: quotas, visas, recruiters (fees, deception)."""
        hh, m, rng = self.households, self.migrants, self.rng
        # applicants per place, smoothed: what households expect their chances to be. The
        # expected demand (choice probabilities x weights) is used rather than the realised
        # choices, so the belief does not depend on how many households are simulated.
        keep = self.b["belief_memory"]
        demand = np.maximum(self.expected_demand, self.quota_annual / 12)
        self.quota_demand = keep * self.quota_demand + (1 - keep) * demand
        self.expected_demand = np.zeros_like(self.quota_annual)
        for o, opts, idx, col in movers:
            ch = opts.channel[col]
            internal = ch == INTERNAL
            self._move_internal(idx[internal])
            reg = (ch != INTERNAL) & (ch != SMUGGLED)
            idx, col = idx[reg], col[reg]
            if not len(idx):
                continue
            # quotas: first come, first served in random order
            order = rng.permutation(len(idx))
            idx, col = idx[order], col[order]
            q = opts.quota[col]
            ok = np.ones(len(idx), bool)
            for key in np.unique(q[q >= 0]):
                sel = np.flatnonzero(q == key)
                ok[sel] = ration(hh.weight[idx[sel]], self.quota_budget[key], rng)
                self.quota_budget[key] -= hh.weight[idx[sel][ok[sel]]].sum()
            idx, col = idx[ok], col[ok]
            member = member_draw(hh.members[idx], self._propensity(opts.channel[col]), rng.random(len(idx)))
            has = member >= 0
            idx, col, member = idx[has], col[has], member[has]
            if not len(idx):
                continue
            ch, dest = opts.channel[col], opts.dest[col].astype(np.int64)
            w = hh.weight[idx]
            visa = (opts.refusal[col] > 0) | np.isin(ch, (LABOUR, FAMILY, HUMANITARIAN)) | \
                   ((ch == VISITOR) & self.rules.visa_required[o, dest])
            granted = rng.random(len(idx)) >= opts.refusal[col]
            self.recorder.add("visa_applications", w[visa], origin=o, destination=dest[visa], channel=ch[visa])
            self.recorder.add("visas_granted", w[visa & granted], origin=o, destination=dest[visa & granted],
                              channel=ch[visa & granted])
            self.recorder.add("visas_refused", w[visa & ~granted], origin=o, destination=dest[visa & ~granted],
                              channel=ch[visa & ~granted])
            # refused applicants lose the visa fee and stay
            fee = np.where(visa, self.rules.visa_fee_usd[o, dest], 0.0)
            hh.pay(idx[~granted], fee[~granted])
            idx, col, member, ch, dest, w = (x[granted] for x in (idx, col, member, ch, dest, w))
            if not len(idx):
                continue
            travel = self.rules.travel_cost_usd[o, dest]
            labour = ch == LABOUR
            skills_route = opts.skills_route[col]
            skill = np.where(skills_route, 1, hh.skill[idx])
            recognised = skills_route | hh.trained[idx] | (rng.random(len(idx)) < self.b["skill_recognition"])
            sector = np.where(recognised, skill, 0)
            wage = self.wage[dest, sector]
            rec_fee = np.zeros(len(idx))
            trafficked = np.zeros(len(idx), bool)
            lab = np.flatnonzero(labour & ~skills_route)
            if len(lab):
                paid, trafficked[lab] = self.recruiters[o].place(
                    opts.recruitment_fee_usd[col[lab]], self.wage[dest[lab], 0],
                    rng.random(len(lab)), rng.random(len(lab)))
                rec_fee[lab] = paid
                self.recorder.recruitment_months_num += float((w[lab] * paid / wage[lab]).sum())
                self.recorder.recruitment_months_den += float(w[lab].sum())
            cost = fee[granted] + travel + rec_fee
            hh.pay(idx, cost)
            hh.leave(idx, member)
            sex, age = member_sex_age(member, rng.random(len(idx)))
            rows = m.add(len(idx), household=idx, origin=o, destination=dest, channel=ch, sex=sex, age=age,
                         skill=skill, weight=w, state=PENDING, location=o, months_left=opts.delay_months[col],
                         employed=labour, wage_usd=np.where(labour, wage, 0.0), debt_usd=0.0,
                         multi_entry=self.rules.multi_entry[o, dest] | self.rules.regional[o, dest],
                         trafficked=trafficked, skill_recognised=recognised)
            self.recorder.add("recruitment_fees_usd", w * rec_fee, origin=o, destination=dest, channel=ch,
                              sex=sex, age=age)
            journeys.record_people(self, "trafficking_victims", rows[trafficked])

    def _move_internal(self, idx: np.ndarray) -> None:
        """A rural household moves to a city: urban earnings; it leaves a climate shock behind."""
        hh = self.households
        if not len(idx):
            return
        hh.pay(idx, np.full(len(idx), self.b["internal_move_cost_usd"]))
        hh.rural[idx] = False
        hh.exposed[idx] = False
        hh.base_income_usd[idx] *= self.b["urban_income_premium"]
        hh.shock_loss[idx] = 0
        self.recorder.add("departures_internal", hh.weight[idx] * hh.members[idx].sum(axis=1),
                          origin=hh.country[idx], destination=hh.country[idx], channel=INTERNAL)

    def sell_passage(self, movers) -> None:
        """Irregular departures: the household finances the journey; smugglers are paid per leg."""
        hh, m, rng = self.households, self.migrants, self.rng
        for o, opts, idx, col in movers:
            irr = opts.channel[col] == SMUGGLED
            idx, col = idx[irr], col[irr]
            if not len(idx):
                continue
            member = member_draw(hh.members[idx], self._propensity(np.full(len(idx), SMUGGLED)),
                                 rng.random(len(idx)))
            has = member >= 0
            idx, col, member = idx[has], col[has], member[has]
            if not len(idx):
                continue
            cash = opts.cost_usd[col] * (1 + self.b["trip_cash_buffer"])
            hh.pay(idx, cash)
            hh.leave(idx, member)
            sex, age = member_sex_age(member, rng.random(len(idx)))
            rows = m.add(len(idx), household=idx, origin=o, destination=opts.dest[col], channel=SMUGGLED,
                         sex=sex, age=age, skill=hh.skill[idx], weight=hh.weight[idx], state=TRANSIT,
                         location=o, route=opts.route[col], leg=0, cash_usd=cash)
            journeys.start_journeys(self, rows)

    def _propensity(self, channel: np.ndarray) -> np.ndarray:
        table = self.propensity_table
        return table[channel]

    def hire(self) -> None:
        """Each employer hires among the job seekers of its destination and sector."""
        from .agents.employers import job_seekers
        groups = job_seekers(self.migrants, self.b["asylum_work_wait_months"])
        for e in self.employers:
            e.hire(self.migrants, groups.get((e.destination, e.skill), ()), self.rng)

    # --- measures -------------------------------------------------------------------------
    def record(self, month: int) -> None:
        from .agents.border import stock_masks
        m, hh, rec = self.migrants, self.households, self.recorder
        rows = slice(0, m.n)
        by_destination = journeys.people_keys(self, rows)  # packed once for the stocks abroad
        weight = m.weight[rows]
        for name, mask in stock_masks(m).items():
            if name in ("stranded_in_transit", "detained", "detained_children"):  # where they are held
                idx = np.flatnonzero(mask)
                rec.add_keyed(name, journeys.people_keys(self, idx, destination=m.location[idx]), weight[idx])
            else:
                rec.add_keyed(name, by_destination[mask], weight[mask])
        # household-level measures are summed by origin first (one row per country, not per household)
        n = len(self.world.codes)
        countries = np.arange(n)
        at_home = hh.sum_by_country(hh.people() * hh.weight)
        pending = np.flatnonzero(m.view("state") == PENDING)
        at_home += np.bincount(m.origin[pending], weights=m.weight[pending], minlength=n)
        rec.add("people_at_home", at_home, origin=countries)
        shocked = hh.shocked
        rec.add("climate_affected_households",
                np.bincount(hh.country[shocked], weights=hh.weight[shocked], minlength=n), origin=countries)
        rec.close_month(month)
        self.month_totals = rec.month_totals()  # this month's totals, read by the DataCollector

    # --- results ------------------------------------------------------------------------
    def timeseries(self):
        """The run's measures as a long DataFrame (timeseries.parquet schema)."""
        return self.recorder.frame(self.cfg.scenario.name, self.replicate, self.cfg.run.seed)

    def indicators(self) -> dict[str, float]:
        return indicators(self.recorder)

    def people_by_state(self) -> dict[str, float]:
        """Real people in each state (conservation: the total never changes)."""
        from .categories import STATES
        m, hh = self.migrants, self.households
        state = m.view("state")
        out = {s: float(m.weight[: m.n][state == i].sum()) for i, s in enumerate(STATES)}
        out["home"] = float((hh.people() * hh.weight).sum()) + out.pop("pending")
        return out

