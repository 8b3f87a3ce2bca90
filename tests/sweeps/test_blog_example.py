"""The seed article's own network answers its own question: on experiment=blog_example, all-BN is `batch`, all-LN
is `layer`, so claims 1–3 get verdicts, and the BN→LN mix is compared with each of its parts."""

import json

from normbench.launch.advise import run_sweep
from normbench.report.claims import NOT_COVERED, evaluate_claims
from normbench.report.groups import usable_runs
from normbench.report.load import load_runs
from normbench.report.mixes import mix_comparisons
from normbench.report.run_metrics import add_run_metrics


def test_blog_example_claims_get_verdicts_and_the_mix_meets_its_parts(tmp_path):
    status, tally = run_sweep(["-m", "experiment=blog_example", f"results_dir={tmp_path}", "trainer.epochs=3",
                               "data.num_train=300", "data.num_test=100", "progress=false", "num_threads=1",
                               "hydra/launcher=basic", "model.layer_norms=[batch,layer],[batch,batch],[layer,layer]",
                               "seed=0,1"])
    assert status == 0 and tally.counts["completed"] == 6
    study = tmp_path / "blog_example"
    # Directory names keep every layer's norm (finished runs keep their directories); the label is the norm.
    all_bn = next(study.glob("mlp_batch+batch_*_s0_*"))
    assert json.loads((all_bn / "summary.json").read_text())["norm"] == "batch"

    loaded = load_runs([study])
    usable = usable_runs(add_run_metrics(loaded.runs, loaded.curves, 2.0, 50))
    assert set(usable["norm"]) == {"batch", "layer", "batch+layer"}
    results = {result.claim.id: result for result in evaluate_claims(usable)}
    for claim in ("1", "2", "3"):
        assert results[claim].verdict != NOT_COVERED, results[claim].note
        assert results[claim].used == 1  # the one matched setting, two seeds a side
    compared = {(comparison.mix, comparison.part) for comparison in mix_comparisons(usable)}
    assert compared == {("batch+layer", "batch"), ("batch+layer", "layer")}
