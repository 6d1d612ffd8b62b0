"""Climate shocks: income and asset losses of exposed households (GCM objective 2).

Reads cfg.climate (shocks, early_assistance), households (country, exposed, rural),
model.resilient; writes households (shock_loss, shock_until, assets_usd, assisted,
shocked, shock_direct). A shock hits the exposed (farm) households of its origins, or a
drawn ``exposed_share`` of rural ones; early assistance and resilience investment soften
the loss by ``early_assistance_effect``. Streams: ``shock_exposure<i>``,
``shock_assistance``. Shocks that have run their course end first.

A fall in farm incomes also reaches the origin's other rural households, whose trade,
services and wage work sell to farm households: they lose ``rural_nonfarm_linkage`` x
the exposed households' income share (no assets). A dollar of new farm income raises total rural income by
USD 1.96-2.88 in four African regions (Delgado et al. 1998, IFPRI Research Report 107),
multipliers that fixed-price models overstate by 10-25% (Haggblade, Hammer & Hazell
1991, AJAE 73(2)); the value 0.5 is an ASSUMPTION (behaviour.yaml). Only the directly
exposed count as ``climate_affected_households``.
"""

from __future__ import annotations

import numpy as np


def step(model, month: int) -> None:
    hh, climate = model.households, model.cfg.climate
    hh.recover(month)
    for i, s in enumerate(climate.shocks):
        if s.start_month != model.calendar_month(month):  # shocks are set in reported months
            continue
        origins = [model.world.index[c] for c in model.world.select(s.origin)]
        in_origin = np.isin(hh.country, origins)
        if s.exposed_share is None:
            exposed = in_origin & hh.exposed
        else:
            exposed = in_origin & hh.rural & (model.draws.uniform(f"shock_exposure{i}", month, hh.uid)
                                              < s.exposed_share)
        idx = np.flatnonzero(exposed)
        assisted = model.draws.uniform("shock_assistance", month, hh.uid[idx]) < climate.early_assistance
        assisted |= model.resilient[idx]  # resilience investments cut losses as assistance does
        hh.strike(idx, month, s.duration_months, s.income_loss_pct / 100, s.asset_loss_pct / 100,
                  assisted, model.b["early_assistance_effect"])
        linkage = model.b["rural_nonfarm_linkage"]
        if linkage > 0 and s.income_loss_pct > 0:  # the rural non-farm economy sells to farm households
            near = np.flatnonzero(in_origin & hh.rural & ~exposed)
            helped = model.draws.uniform("shock_assistance", month, hh.uid[near]) < climate.early_assistance
            helped |= model.resilient[near]
            hh.strike(near, month, s.duration_months, linkage * s.income_loss_pct / 100, 0.0, helped,
                      model.b["early_assistance_effect"], direct=False)
