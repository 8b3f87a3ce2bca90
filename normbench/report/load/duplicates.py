"""One configuration and seed found twice (e.g. a copied results folder) is counted once."""

import pandas as pd

from normbench.report.load.record import DUPLICATE
from normbench.rundir.contract import FINISHED


def mark_duplicates(runs: pd.DataFrame) -> pd.DataFrame:
    """Every finished run after the first with its config_hash becomes `duplicate`, its reason naming the first."""
    usable = runs[runs["status"].isin(FINISHED) & runs["config_hash"].notna()]
    repeated = usable.index[usable.duplicated("config_hash")]
    if repeated.empty:
        return runs
    first_id = usable.drop_duplicates("config_hash").set_index("config_hash")["run_id"]
    runs.loc[repeated, "reason"] = ("duplicate of " + runs.loc[repeated, "config_hash"].map(first_id)
                                    + " (same config_hash): counted once")
    runs.loc[repeated, "status"] = DUPLICATE
    return runs
