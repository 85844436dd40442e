"""The oracle side of parallel and distributed search: several workers, lost trials."""

import threading

import keras_tuner
import pytest
from conftest import FakeClock
from conftest import conditional_space
from conftest import peak_score
from conftest import start_oracle
from conftest import values_key

from evokt import GeneticOracle
from evokt import GreedyOracle
from evokt.oracles.evolutionary import ProjectMismatchError


# Populations of 2 breed from the second completed trial on: these tests are
# about handing out trials (IDLE, timeouts, release), in two to four trials.
def make_oracle(project_dir, oracle_class=GeneticOracle, clock=None, **kwargs):
    oracle = oracle_class(objective=keras_tuner.Objective("score", "max"),
                          hyperparameters=conditional_space(), seed=3,
                          clock=clock or FakeClock(), **kwargs)
    return start_oracle(oracle, project_dir)


def finish(oracle, trial, status="COMPLETED"):
    if status == "COMPLETED":
        oracle.update_trial(trial.trial_id, {"score": peak_score(trial.hyperparameters.values)})
    trial.status = status
    oracle.end_trial(trial)


def test_idle_only_while_the_last_trials_run_elsewhere(project_dir):
    oracle = make_oracle(project_dir, max_trials=3, population_size=2)
    first, second, third = (oracle.create_trial(f"w{i}") for i in range(3))
    assert {first.status, second.status, third.status} == {"RUNNING"}
    finish(oracle, first)
    # All trials handed out, two still running: w0 must wait, not leave.
    assert oracle.create_trial("w0").status == "IDLE"
    assert "w0" in oracle.tuner_ids
    finish(oracle, second)
    finish(oracle, third)
    assert oracle.create_trial("w0").status == "STOPPED"
    assert oracle.create_trial("w1").status == "STOPPED"
    assert oracle.create_trial("w2").status == "STOPPED"
    assert oracle.tuner_ids == set() and oracle.ongoing_trials == {}


def test_a_lost_trial_goes_to_the_next_worker_after_the_timeout(project_dir):
    clock = FakeClock()
    oracle = make_oracle(project_dir, clock=clock, max_trials=2, population_size=2,
                         trial_timeout=60)
    lost = oracle.create_trial("dead")
    alive = oracle.create_trial("alive")
    finish(oracle, alive)
    clock.advance(59)
    assert oracle.create_trial("alive").status == "IDLE"  # 59.1 s: not lost yet
    clock.advance(1)
    retried = oracle.create_trial("alive")
    assert retried.status == "RUNNING" and retried.trial_id == lost.trial_id
    assert "dead" not in oracle.tuner_ids
    finish(oracle, retried)
    assert oracle.create_trial("alive").status == "STOPPED"
    assert len(oracle.trials) == 2 and len(oracle.end_order) == 2


def test_a_late_result_from_the_lost_worker_counts_once(project_dir):
    clock = FakeClock()
    oracle = make_oracle(project_dir, clock=clock, max_trials=2, population_size=2,
                         trial_timeout=10)
    lost = oracle.create_trial("slow")
    clock.advance(11)
    retried = oracle.create_trial("fast")
    assert retried.trial_id == lost.trial_id
    finish(oracle, retried)
    finish(oracle, lost)  # the slow worker was not dead after all
    assert oracle.end_order == [lost.trial_id]
    last = oracle.create_trial("fast")
    finish(oracle, last)
    assert oracle.end_order == [lost.trial_id, last.trial_id]
    assert oracle.create_trial("slow").status == "STOPPED"


def test_release_tuner_hands_a_dead_local_workers_trial_over_at_once(project_dir):
    oracle = make_oracle(project_dir, max_trials=4, population_size=2)
    orphan = oracle.create_trial("worker0")
    oracle.release_tuner("worker0")
    handed = oracle.create_trial("worker1")
    assert handed.trial_id == orphan.trial_id
    finish(oracle, handed)
    seen = {values_key(orphan.hyperparameters.values)}
    for _ in range(3):
        trial = oracle.create_trial("worker1")
        seen.add(values_key(trial.hyperparameters.values))
        finish(oracle, trial)
    assert len(oracle.trials) == 4 and len(seen) == 4
    assert oracle.create_trial("worker1").status == "STOPPED"


def test_handed_out_times_survive_a_chief_restart(project_dir):
    oracle = make_oracle(project_dir, max_trials=5, trial_timeout=60)
    trial = oracle.create_trial("w0")
    oracle.save()
    restarted = make_oracle(project_dir, max_trials=5, trial_timeout=60)
    restarted.reload()
    assert trial.trial_id in restarted.get_state()["handed_out"]
    assert restarted.create_trial("w1").trial_id == trial.trial_id  # retried after restart


def test_idle_answers_are_paced_by_the_oracle_outside_its_lock(project_dir):
    """A plain `keras_tuner.Tuner` asks again at once after IDLE; the oracle itself
    makes each IDLE answer wait, doubling to 2 s, and other workers go on meanwhile."""
    oracle = make_oracle(project_dir, max_trials=2, population_size=2)
    first, second = oracle.create_trial("w0"), oracle.create_trial("w1")
    finish(oracle, first)
    answers = [oracle.create_trial("w0").status for _ in range(7)]
    assert answers == ["IDLE"] * 7
    assert oracle.clock.sleeps == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]

    class BlockingClock(FakeClock):
        def sleep(self, seconds):
            asleep.set()
            wake.wait(30)

    asleep, wake = threading.Event(), threading.Event()
    oracle.clock = BlockingClock()
    waiting = threading.Thread(target=oracle.create_trial, args=("w0",))
    waiting.start()
    assert asleep.wait(30)
    finish(oracle, second)  # would deadlock if the pause held the oracle's lock
    wake.set()
    waiting.join(30)
    assert oracle.create_trial("w0").status == "STOPPED"
    assert oracle.create_trial("w1").status == "STOPPED"


def test_a_running_trial_resets_the_pace(project_dir):
    oracle = make_oracle(project_dir, max_trials=4, population_size=2, trial_timeout=5)
    lost = oracle.create_trial("dead")
    for _ in range(3):
        finish(oracle, oracle.create_trial("w0"))
    assert oracle.create_trial("w0").status == "IDLE"
    assert oracle.create_trial("w0").status == "IDLE"
    oracle.clock.advance(10)  # the dead worker's trial is reclaimed
    assert oracle.create_trial("w0").trial_id == lost.trial_id
    assert oracle.create_trial("w1").status == "IDLE"
    assert oracle.clock.sleeps == [0.1, 0.2, 0.1]


@pytest.mark.parametrize("first,second", [(GeneticOracle, GreedyOracle),
                                          (GreedyOracle, GeneticOracle)])
def test_a_project_of_one_oracle_does_not_reload_into_another(project_dir, first, second):
    oracle = make_oracle(project_dir, first, max_trials=4)
    finish(oracle, oracle.create_trial("w0"))
    with pytest.raises(ProjectMismatchError, match=f"holds the state of a {first.__name__}"):
        make_oracle(project_dir, second, max_trials=4).reload()
    make_oracle(project_dir, first, max_trials=4).reload()  # the same kind reloads
