"""One set of colours for every figure and the browser app.

Okabe & Ito's colour-blind-safe palette: a fixed colour per organisation
kind, per regime and per maturity level, so a reader who learns them in one
figure can read every other figure and the UI the same way.
"""

from __future__ import annotations

#: Okabe-Ito colours by name.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "grey": "#999999",
}

#: Colour of each organisation kind (keys of `agents.kinds.KINDS`).
KIND_COLOURS = {
    "icb": OKABE_ITO["black"],
    "acute_trust": OKABE_ITO["blue"],
    "community_trust": OKABE_ITO["sky_blue"],
    "mental_health_trust": OKABE_ITO["reddish_purple"],
    "local_authority": OKABE_ITO["orange"],
    "pcn": OKABE_ITO["bluish_green"],
    "vcse": OKABE_ITO["yellow"],
    "university": OKABE_ITO["vermillion"],
}

#: Colour of each regime (THEORY §4): synergy blue, inertia grey, dissolution red.
REGIME_COLOURS = {
    "synergy": OKABE_ITO["blue"],
    "inertia": OKABE_ITO["grey"],
    "dissolution": OKABE_ITO["vermillion"],
}

#: Colour of each size relation in the power figure (C17): none is a regime colour, so
#: no line there reads as "synergy" or "dissolution".
SIZE_RELATION_COLOURS = {
    "smaller_in_larger": OKABE_ITO["reddish_purple"],
    "peers": OKABE_ITO["bluish_green"],
    "larger_in_smaller": OKABE_ITO["orange"],
}

#: Trust is drawn on cividis, light = low, dark = high, cut below this point of the
#: scale: cividis's lightest end is the yellow of the VCSE kind (drawn beside it in
#: the trust matrix and network); from here on no colour of the scale is near a kind's.
TRUST_SCALE_START = 0.2

#: Colour of each maturity level (M23's adaptation of Westrum).
MATURITY_COLOURS = {
    "pathological": OKABE_ITO["vermillion"],
    "bureaucratic": OKABE_ITO["orange"],
    "generative": OKABE_ITO["bluish_green"],
}

#: Colour of the dotted lines that mark a scenario's timeline events on a time axis: a dark
#: grey, not the inertia grey of `REGIME_COLOURS`, so no event line reads as a regime.
EVENT_COLOUR = "#555555"

#: Colour of exited organisations.
EXITED_COLOUR = "#DDDDDD"

#: Colour of each mean state variable in time-series charts.
METRIC_COLOURS = {
    "mean_trust": OKABE_ITO["blue"],
    "mean_faith": OKABE_ITO["reddish_purple"],
    "mean_confidence": OKABE_ITO["sky_blue"],
    "mean_behaviour": OKABE_ITO["bluish_green"],
    "mean_capacity": OKABE_ITO["orange"],
    "output": OKABE_ITO["vermillion"],
    "cumulative_output": OKABE_ITO["black"],
}
