"""A distributed search's chief port, below the oracles and the search: its
token and TLS (`evokt.chief.auth`), the trials' files it serves and stores
(`evokt.chief.files`), and the worker's client of both (`evokt.chief.client`,
which `EvoktTuner` uses on every worker). Free of TensorFlow, except the
client, which is KerasTuner's."""
