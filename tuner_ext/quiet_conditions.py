"""KerasTuner 1.4.8 prints a condition's first value each time it sends one over gRPC.

`keras_tuner.src.engine.conditions.Parent.to_proto` starts with a leftover
`print(self.values[0])`, so a distributed search fills the chief's and the
workers' output with numbers. `install()` replaces the method with the same
conversion, without the print.
"""

from __future__ import annotations

from keras_tuner.src import protos
from keras_tuner.src.engine import conditions


def _parent_to_proto(self: conditions.Parent):
    proto = protos.get_proto()
    first = self.values[0]
    if isinstance(first, str):
        values = [proto.Value(string_value=value) for value in self.values]
    elif isinstance(first, bool):
        values = [proto.Value(boolean_value=value) for value in self.values]
    elif isinstance(first, int):
        values = [proto.Value(int_value=value) for value in self.values]
    else:
        values = [proto.Value(float_value=value) for value in self.values]
    return proto.Condition(parent=proto.Condition.Parent(name=self.name, values=values))


def install() -> None:
    conditions.Parent.to_proto = _parent_to_proto
