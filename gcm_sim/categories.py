"""Category codes shared by the populations, the measures and the output schema.

Arrays hold small integer codes; these tuples give their names in the output
(DESIGN.md, "Outputs"). The last entry of each split is ``all``.
"""

CHANNELS = ("labour", "family", "humanitarian", "visitor", "regional", "smuggled", "overstay", "internal", "all")
LABOUR, FAMILY, HUMANITARIAN, VISITOR, REGIONAL, SMUGGLED, OVERSTAY, INTERNAL, ALL_CHANNELS = range(9)
REGULAR_CHANNELS = (LABOUR, FAMILY, HUMANITARIAN, VISITOR, REGIONAL)

SEXES = ("female", "male", "all")
FEMALE, MALE, ALL_SEXES = range(3)

AGE_GROUPS = ("child", "youth", "adult", "all")
CHILD, YOUTH, ADULT, ALL_AGES = range(4)

# Household members at home, by sex and age group (children's sex is drawn when they leave).
MEMBERS = ("female_youth", "male_youth", "female_adult", "male_adult", "child")
MEMBER_SEX = (FEMALE, MALE, FEMALE, MALE, -1)
MEMBER_AGE = (YOUTH, YOUTH, ADULT, ADULT, CHILD)
# the member column of a person by (sex, age group): children are one column whatever their sex
MEMBER_OF = {(FEMALE, YOUTH): 0, (MALE, YOUTH): 1, (FEMALE, ADULT): 2, (MALE, ADULT): 3,
             (FEMALE, CHILD): 4, (MALE, CHILD): 4}

SKILLS = ("low", "mid", "high")

# Where a migrant is (DESIGN.md "Conventions": every person is in exactly one state).
# ``returned``: back home this month; ``rejoined``: a returned record whose person is a member of the
# household again (counted at home, so the record no longer holds anyone: mechanisms/demography.py).
STATES = ("pending", "transit", "abroad", "detained", "returned", "dead", "rejoined")
PENDING, TRANSIT, ABROAD, DETAINED, RETURNED, DEAD, REJOINED = range(7)

# Legal status abroad. ``temporary_protection``: group (prima facie) protection granted on
# arrival without an individual claim (mechanisms/asylum.py); counted in stock_regular.
STATUSES = ("none", "regular", "asylum_pending", "irregular", "visitor", "temporary_protection")
NO_STATUS, REGULAR, ASYLUM_PENDING, IRREGULAR, VISITING, PROTECTED = range(6)
