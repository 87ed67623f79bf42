import numpy as np

from gigalearn.graph.holdout import write_training_graph
from gigalearn.graph.preprocess.build import build_graph
from gigalearn.graph.store import GraphStore

RATED, REV = ("user", "rated", "movie"), ("movie", "rev_rated", "user")


def test_training_graph_drops_held_out_edges_both_ways(tiny_cfg, tmp_path):
    build_graph(tiny_cfg(), tmp_path / "g")
    full = GraphStore(tmp_path / "g")
    keep = np.array([0, 2, 3, 6])
    g = write_training_graph(full, RATED, keep, tmp_path / "train")
    assert g.num_edges(RATED) == g.num_edges(REV) == 4
    fs, fd = full.edge_index(RATED)
    s, d = g.edge_index(RATED)
    np.testing.assert_array_equal(s, fs[keep])
    np.testing.assert_array_equal(d, fd[keep])
    np.testing.assert_array_equal(g.edge_time(RATED), full.edge_time(RATED)[keep])
    # the reverse type's CSR sees exactly the kept edges
    rev = g.csr(REV, "out")
    pairs = {
        (int(m), int(u)) for m in range(3) for u in rev.indices[rev.indptr[m] : rev.indptr[m + 1]]
    }
    assert pairs == {(int(b), int(a)) for a, b in zip(fs[keep], fd[keep], strict=True)}
    # nodes are shared, not rebuilt
    np.testing.assert_array_equal(g.node_features("user"), full.node_features("user"))
    assert (tmp_path / "train/nodes/user/features.npy").stat().st_nlink == 2
