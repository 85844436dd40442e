"""K-fold cross-validation of a trial, for data too small for one held-out split.

With a few hundred rows, one validation split of a fifth scores a model on a
few dozen examples: many trials tie at 1.0 and the search's choice among them
is arbitrary. Scoring each configuration on K folds (each row held out once)
averages that noise away. KerasTuner has no such option (its users ask for
it: keras-team/keras-tuner #139, #663).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from sklearn.model_selection import KFold
from sklearn.model_selection import StratifiedKFold


def fold_indices(
    y: np.ndarray, folds: int, seed: int | None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(training rows, held-out rows) of each fold.

    Class labels (integers with every class at least `folds` times) are
    split stratified, so each fold holds every class in its proportion;
    anything else (a regression target, a rare class) is split plainly.
    Shuffled with `seed`, so every trial of a search sees the same folds.
    """
    rows = np.arange(len(y))
    labels = np.asarray(y)
    if labels.ndim == 1 and labels.dtype.kind in "iub":
        counts = np.unique(labels, return_counts=True)[1]
        if counts.min() >= folds:
            splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
            return list(splitter.split(rows, labels))
    return list(KFold(folds, shuffle=True, random_state=seed).split(rows))


def mean_history(histories: Sequence[keras.callbacks.History]) -> keras.callbacks.History:
    """The folds' histories averaged epoch by epoch, as one `History`.

    KerasTuner then scores the trial by its best mean epoch, as it scores a
    trial of one split by its best epoch.
    """
    mean = keras.callbacks.History()
    names = set.intersection(*(set(history.history) for history in histories))
    epochs = min(len(history.history[name]) for history in histories for name in names)
    mean.history = {
        name: [float(np.mean([history.history[name][epoch] for history in histories]))
               for epoch in range(epochs)]
        for name in sorted(names)
    }
    return mean
