"""cimopt: maps DNN layers onto multi-core SRAM computing-in-memory accelerators.

The Python face of the ``cimopt-pipeline`` library, which the ``cimopt`` command is a thin
layer over: the same functions, the same numbers, the same schedule bytes and the same error
messages.

>>> import cimopt
>>> t = cimopt.target("default", set={"cores": 16})
>>> s = cimopt.compile("models/tiny_cnn.onnx", t, mapper="greedy")  # doctest: +SKIP
>>> s.total.latency_cycles  # doctest: +SKIP
"""

from ._errors import (
    Error,
    ExportWarning,
    ModelError,
    OptionsError,
    ScheduleError,
    TargetError,
    UnmappableError,
)
from ._cimopt import (
    Export,
    Layer,
    LayerMapped,
    Mapping,
    Metrics,
    Schedule,
    ScheduledLayer,
    Solve,
    SpatialFactor,
    Target,
    TemporalLoop,
    Total,
    __version__,
    check,
    compile,
    export,
    import_schedule,
    inspect,
    report,
    simulate,
    target,
    targets,
)

__all__ = [
    "Error",
    "ExportWarning",
    "ModelError",
    "OptionsError",
    "ScheduleError",
    "TargetError",
    "UnmappableError",
    "Export",
    "Layer",
    "LayerMapped",
    "Mapping",
    "Metrics",
    "Schedule",
    "ScheduledLayer",
    "Solve",
    "SpatialFactor",
    "Target",
    "TemporalLoop",
    "Total",
    "__version__",
    "check",
    "compile",
    "export",
    "import_schedule",
    "inspect",
    "report",
    "simulate",
    "target",
    "targets",
]
