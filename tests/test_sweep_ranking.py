"""benchmarks/sweep_ranking.py: the long sweep trains the short sweep's configurations, and the table
ranks them."""
import pandas as pd
import pytest

from benchmarks import sweep_ranking


def test_spearman_and_a_mismatch_of_configurations():
    assert sweep_ranking.spearman([0.1, 0.5, 0.3], [1, 3, 2]) == pytest.approx(1.0)
    assert sweep_ranking.spearman([0.1, 0.5, 0.3], [3, 1, 2]) == pytest.approx(-1.0)
    short = pd.DataFrame({"trial": [1, 2], "lr": [0.1, 0.2], "train_accuracy": [0.5, 0.6],
                          "last_val_accuracy": [0.4, 0.7], "val_accuracy": [0.45, 0.7]})
    with pytest.raises(SystemExit, match="different lr"):
        sweep_ranking.compare(short, short.assign(lr=[0.1, 0.3]), ["lr"])
    table = sweep_ranking.compare(short, short.assign(val_accuracy=[0.8, 0.75]), ["lr"])
    assert list(table["short rank"]) == [2, 1] and list(table["long rank"]) == [1, 2]
    assert list(table["gap (points)"]) == pytest.approx([10.0, -10.0])


def test_short_and_long_sweeps_of_the_same_configurations(synthetic_dir, tmp_path, monkeypatch, capsys):
    root, _ = synthetic_dir
    table = tmp_path / "ranking.md"
    monkeypatch.setattr("sys.argv", ["sweep_ranking.py", "--data-dir", str(root), "--experiment", "tutorial_cnn",
                                     "--trials", "2", "--short-epochs", "1", "--long-epochs", "2",
                                     "--limit-train", "30", "--val-split", "10", "--output-dir",
                                     str(tmp_path / "runs"), "--table", str(table)])
    assert sweep_ranking.main() == 0
    text = table.read_text()
    assert "Spearman rank correlation of the short and the long scores" in text
    rows = [line for line in text.splitlines() if line.startswith("|") and "---" not in line]
    assert len(rows) == 1 + 2                         # header and the two trials
