"""One colour per norm, used by every figure of a report, and the order norms are listed in."""

# Fixed colours for the norms normbench ships (colour-blind-safe Okabe–Ito first, then tab10 tones):
# the same norm has the same colour in every report.
KNOWN_NORM_COLOURS = {
    "none": "#000000",
    "batch": "#0072B2",
    "layer": "#D55E00",
    "group": "#009E73",
    "instance": "#CC79A7",
    "rms": "#E69F00",
    "batch_renorm": "#56B4E9",
    "ghost_batch": "#8c564b",
    "switch": "#9467bd",
}
# For any other norm (e.g. per-layer mixes like "batch+layer"), in sorted order.
EXTRA_COLOURS = ("#7f7f7f", "#bcbd22", "#17becf", "#e377c2", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                 "#aec7e8", "#98df8a", "#ff9896", "#c5b0d5")
LINESTYLES = ("-", "--", ":", "-.")  # curves of one norm that differ in something else (e.g. lr)
SETTING_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "<", ">", "h", "p")


def norm_order(norms) -> list[str]:
    """Known norms in their fixed order, then the others alphabetically."""
    known = list(KNOWN_NORM_COLOURS)
    return sorted(set(norms), key=lambda norm: (known.index(norm) if norm in known else len(known), norm))


def norm_colours(norms) -> dict[str, str]:
    """norm -> colour for every norm in this report: known norms fixed, others from EXTRA_COLOURS."""
    colours, extra = {}, 0
    for norm in norm_order(norms):
        if norm in KNOWN_NORM_COLOURS:
            colours[norm] = KNOWN_NORM_COLOURS[norm]
        else:
            colours[norm] = EXTRA_COLOURS[extra % len(EXTRA_COLOURS)]
            extra += 1
    return colours
