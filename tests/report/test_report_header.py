"""The report's "About these runs" says how many runs, from which folder, and what differs between them: a report
over a glob of run directories names none of them one by one."""

from normbench.report import render, sections
from normbench.report.load import load_runs
from normbench.report.pipeline import Options
from normbench.report.sections import runs_summary


def test_many_run_folders_are_summarised_not_listed(make_run, tmp_path):
    results = tmp_path / "results"
    runs = [make_run(results, norm=norm, seed=seed) for norm in ("batch", "layer", "group") for seed in range(4)]
    table = load_runs(runs).runs
    text = runs_summary(runs, table)
    assert text == (f"12 run(s) from 12 folders under `{results / 'synthetic'}`; they differ in norm (3 values), "
                    f"seed (4 values).")
    header = render.to_markdown(sections.header_section(runs, Options(), table, "today"))
    assert not any(run.name in header for run in runs)


def test_one_folder_of_one_configuration(make_run, tmp_path):
    make_run(tmp_path / "results", norm="batch", seed=0)
    assert runs_summary([tmp_path / "results"], load_runs([tmp_path / "results"]).runs) == (
        f"1 run(s) under `{tmp_path / 'results'}`; they differ in nothing: one configuration.")
