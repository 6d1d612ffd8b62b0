"""The month's mechanisms, one module each, in the order ``MigrationModel.step`` runs them.

| module | what happens |
|---|---|
| :mod:`.demography` | returnees rejoin their households; people abroad grow older |
| :mod:`.shocks` | climate shocks cut income and assets of exposed households |
| :mod:`.income` | income, programme jobs, training, saving; quota budgets top up |
| :mod:`.choice` | who considers a move, what they choose (nested logit) |
| :mod:`.placement` | internal moves; quotas, visas, recruiters (fees, deception) |
| :mod:`.passage` | smugglers sell passage; irregular journeys start |
| :mod:`.journeys` | visas come through; legs: interception, death, arrival |
| :mod:`.transit` | detention, alternatives, stranded people retry or go home |
| :mod:`.asylum` | asylum decisions and abandoned claims, removals, trafficking detection |
| :mod:`.onward` | people without a settled status move on along a route |
| :mod:`.visits` | visits end or become overstays |
| :mod:`.hiring` | employers hire and separate migrants |
| :mod:`.remittances` | formal and informal transfers home |
| :mod:`.returns` | return decisions; the way home for every mechanism |
| :mod:`.networks` | diaspora ties follow the stock abroad (cumulative causation) |
| :mod:`.beliefs` | what households hear about routes; smugglers' prices |
| :mod:`.recording` | month-end stocks and the contract's measures |
| :mod:`.compaction` | records whose story is over (rejoined, dead) leave the arrays |

Set-up helpers: :mod:`.documents` (rates inclusion levers change). Each module's
docstring names what it reads and writes, its random streams (:mod:`gcm_sim.draws`)
and the source of its behaviour. Every entry point is ``step(model, month)``
(``step(model, movers, month)`` for the two that place this month's movers).
"""
