"""`evokt search --oracle genetic-hyperband`, with two local workers, and `evokt summary`."""

import json

from test_cli import evokt
from test_cli import trial_statuses


def test_two_workers_spend_the_epoch_budget_and_the_chief_exports_the_best(tmp_path):
    project, output = tmp_path / "search", tmp_path / "model"
    result = evokt("search", "--dataset", "iris", "--hypermodel", "mlp",
                   "--oracle", "genetic-hyperband", "--epochs", "3", "--max-epochs-budget", "8",
                   "--workers", "2", "--project-dir", str(project), "--output", str(output))
    assert result.returncode == 0, result.stderr[-3000:]
    assert (project / "worker0.json").exists() and (project / "worker1.json").exists()
    trials = {trial_id: json.loads(values) for trial_id, (status, _, values)
              in trial_statuses(project).items() if status == "COMPLETED"}
    assert len(trials) == len(trial_statuses(project))
    spent = sum(values["tuner/epochs"] - values["tuner/initial_epoch"]
                for values in trials.values())
    assert spent == 8  # the lowest rung is 1 epoch, so the budget is used up
    promoted = [values for values in trials.values() if "tuner/trial_id" in values]
    assert promoted and all(values["tuner/trial_id"] in trials for values in promoted)
    best = json.loads((output / "best.json").read_text())
    assert best["strategy"] == "genetic-hyperband" and (output / "model.keras").exists()

    summary = evokt("summary", str(project))
    assert summary.returncode == 0, summary.stderr
    assert (f"genetic-hyperband search on iris: {len(trials)} trials ended "
            f"({len(trials)} completed), {spent} of 8 epochs handed out") in " ".join(
                summary.stdout.split())


def test_an_epoch_budget_for_another_strategy_is_refused(tmp_path):
    result = evokt("search", "--oracle", "genetic", "--max-epochs-budget", "20",
                   "--project-dir", str(tmp_path / "s"))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "evokt: error: max_epochs_budget: only genetic-hyperband has an epoch budget, not genetic")
    result = evokt("search", "--oracle", "genetic-hyperband", "--epochs", "10",
                   "--max-epochs-budget", "5", "--project-dir", str(tmp_path / "s"))
    assert result.returncode == 2
    assert "max_epochs_budget: must be at least epochs (10)" in result.stderr
