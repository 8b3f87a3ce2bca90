"""`normbench bench`: what it measures on which device, and its table on a CPU (its figures are its own business)."""

import pytest
import torch

from normbench.cli import bench


def test_cuda_adds_the_graph_columns_and_a_cpu_has_none():
    assert bench.columns("cpu") == ("bare", "normbench")
    assert bench.ratios("cpu") == (("normbench", "bare"),)
    for device in ("cuda", "cuda:1"):
        assert bench.columns(device) == ("bare", "bare_graph", "normbench_eager", "normbench_graphs")
        assert ("normbench_graphs", "bare_graph") in bench.ratios(device)
        assert ("normbench_eager", "bare") in bench.ratios(device)
    assert bench.columns("mps") == bench.columns("cpu")


def test_the_cpu_table_says_the_graph_columns_are_absent(capsys):
    assert bench.main(["--steps", "2", "--repeats", "1", "--cases", "mlp:layer"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "(no CUDA-graph columns: device=cpu is not CUDA)"
    assert lines[1].split() == ["model", "norm", "bare", "normbench", "normbench/bare"]
    model, norm, bare, ours, ratio = lines[2].split()
    assert (model, norm) == ("mlp", "layer") and float(bare) > 0 and float(ours) > 0
    assert abs(float(ratio) - float(ours) / float(bare)) <= 0.01 * float(ratio) + 0.01
    assert lines[3].startswith("geometric mean normbench/bare: ")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_cuda_table_has_the_graph_columns_and_their_ratios(capsys):
    assert bench.main(["--device", "cuda", "--steps", "20", "--repeats", "1", "--cases", "mlp:batch"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["model", "norm", "bare", "bare_graph", "nb_eager", "nb_graphs", "nb_eager/bare",
                                "nb_graphs/bare_graph", "nb_graphs/bare"]
    row = [line for line in lines if line.startswith("mlp")]
    assert len(row) == 1 and all(float(value) > 0 for value in row[0].split()[2:])
    assert not [line for line in lines if "without CUDA graphs" in line]  # normbench's graphed run was graphed
