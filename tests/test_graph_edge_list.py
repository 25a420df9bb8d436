"""adapters/_graph_files.read_edge_list: the column-wise parse gives what networkx's own readers give."""

import networkx as nx
import pytest

from multiattn.adapters import _graph_files
from multiattn.adapters._graph_files import read_edge_list


def _edges(graph):
    return list(graph.edges(data=True))


@pytest.fixture
def edges(rng):
    pairs = rng.integers(0, 60, (400, 2))
    return [(f"n{a}", f"n{b}", round(float(w), 4)) for (a, b), w in zip(pairs, rng.random(400))]


@pytest.mark.parametrize("directed", [False, True])
def test_weighted_whitespace_file_equals_networkx_reader(edges, tmp_path, directed):
    path = tmp_path / "g.edgelist"
    lines = [f"{a} {b} {w}" for a, b, w in edges]
    path.write_text("# a comment\n\n" + "\n".join(lines[:200]) + "\n  # indented comment\n"
                    + "\n".join(lines[200:]) + "\n")
    ours = read_edge_list(path, directed)
    theirs = nx.read_weighted_edgelist(path, create_using=nx.DiGraph if directed else nx.Graph)
    assert list(ours.nodes) == list(theirs.nodes)  # same insertion order
    assert _edges(ours) == _edges(theirs)  # duplicates: the last weight wins, as in networkx
    assert all(type(d["weight"]) is float for *_, d in _edges(ours))


def test_csv_header_names_the_attributes(edges, tmp_path):
    path = tmp_path / "g.csv"
    path.write_text("source, target, attention, alpha\n"
                    + "".join(f"{a}, {b}, {w}, {1 - w}\r\n" for a, b, w in edges))
    ours = read_edge_list(path, directed=True)
    theirs = nx.DiGraph()
    for a, b, w in edges:
        theirs.add_edge(a, b, attention=w, alpha=1 - w)
    assert _edges(ours) == _edges(theirs)


def test_column_parse_equals_the_row_by_row_parse(edges, tmp_path, monkeypatch):
    path = tmp_path / "g.tsv"
    path.write_text("".join(f"{a}\t{b}\t{w}\n" for a, b, w in edges))
    fast = read_edge_list(path, directed=False)
    monkeypatch.setattr(_graph_files, "_column_edges", lambda rows, names: None)
    slow = read_edge_list(path, directed=False)
    assert list(fast.nodes) == list(slow.nodes) and _edges(fast) == _edges(slow)
    assert len(fast.edges) == len({frozenset(e[:2]) for e in edges})


def test_ragged_dict_and_quoted_lines_take_the_row_path(tmp_path):
    mixed = tmp_path / "g.txt"
    mixed.write_text("a b\nb c 0.5\nc d {'weight': 2.0, 'kind': 'x'}\n")
    assert _edges(read_edge_list(mixed, False)) == [
        ("a", "b", {}), ("b", "c", {"weight": 0.5}), ("c", "d", {"weight": 2.0, "kind": "x"})]
    quoted = tmp_path / "q.csv"
    quoted.write_text('source,target,weight\n"x, inc",b,1.5\n')
    assert _edges(read_edge_list(quoted, True)) == [("x, inc", "b", {"weight": 1.5})]


def test_bad_numbers_name_the_line(tmp_path):
    path = tmp_path / "g.txt"
    path.write_text("a b 0.5\nb c oops\n")
    with pytest.raises(ValueError, match=r"line 2: \['oops'\] are not numbers"):
        read_edge_list(path, False)
