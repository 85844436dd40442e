"""evokt's KerasTuner oracles and tuners, one strategy per module, with the
operators and the search-space walker they share."""
