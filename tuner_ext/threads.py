"""TensorFlow's thread pools, sized in one place.

A process that shares the machine with others (a search worker, one of a
benchmark's pool of searches, one of the test suite's workers) trains on a
few threads of its own rather than on every core. Importing this module
imports TensorFlow: a caller that must prepare its environment first (a
worker's cluster) imports it afterwards.
"""

from __future__ import annotations

import tensorflow as tf


def set_tensorflow_threads(intra: int, inter: int = 1) -> None:
    """Sizes TensorFlow's thread pools; call it before TensorFlow runs an op.

    Args:
        intra: Threads that one operation (a matrix product) is split over.
        inter: Operations run at once. Defaults to 1.
    """
    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
