# Types of the native module `cimopt._cimopt` (crates/python), for type checkers and IDEs.
# `python/tests/test_types.py` holds these to the built module with mypy's stubtest, so a
# function, class, attribute or parameter that changes there and not here fails the tests.

from os import PathLike
from pathlib import Path
# `typing.Mapping` is imported as `_Map`: `Mapping` is the name of a class of this module.
from typing import Any, Callable, ClassVar, Sequence, Union, final
from typing import Mapping as _Map

_Path = Union[str, PathLike[str]]
# `set=` overrides, as `--set KEY=VALUE` says them: `{"cores": 16}` or `["cores=16"]`.
_SetValue = Union[bool, int, float, str, Sequence[Any]]
_Set = Union[_Map[str, _SetValue], Sequence[str], str, None]
_TargetArg = Union[str, PathLike[str], Target]
# A `Schedule`, or a schedule file.
_ScheduleArg = Union[Schedule, str, PathLike[str]]
_InputShapes = Union[_Map[str, Union[Sequence[int], str]], None]
# Timeloop documents: a file or folder, several, {name: text}, or an `Export`.
_Documents = Union[str, PathLike[str], Sequence[_Path], _Map[str, str], Export]

__all__ = [
    "__version__",
    "targets",
    "target",
    "inspect",
    "compile",
    "simulate",
    "check",
    "report",
    "export",
    "import_schedule",
    "Target",
    "Schedule",
    "Export",
    "Layer",
    "ScheduledLayer",
    "Mapping",
    "SpatialFactor",
    "TemporalLoop",
    "Metrics",
    "Solve",
    "Total",
    "LayerMapped",
]

__version__: str

def targets() -> list[str]:
    """The built-in targets' names."""

def target(name: _TargetArg, set: _Set = None) -> Target:
    """A preset or a TOML target file, with overrides applied in order as `--set` does."""

def inspect(
    model: _Path, input_shapes: _InputShapes = None, keep_going: bool = False
) -> list[Layer]:
    """The layers an ONNX model lowers to, in topological order (`cimopt inspect`)."""

def compile(
    model: _Path,
    target: _TargetArg,
    *,
    set: _Set = None,
    mapper: str = "mip",
    objective: str = "edp",
    gap: float = 0.001,
    time_limit: float = 60.0,
    cache: Union[bool, _Path, None] = True,
    keep_going: bool = False,
    simulate: bool = True,
    timings: bool = False,
    input_shapes: _InputShapes = None,
    threads: Union[int, None] = None,
    progress: Union[Callable[[LayerMapped], object], None] = None,
    residency: bool = True,
    precision: str = "model",
    certify: int = 2000,
) -> Schedule:
    """Maps every layer of a model onto a target (`cimopt compile`, the same bytes)."""

def simulate(
    schedule: _ScheduleArg, target: Union[_TargetArg, None] = None, set: _Set = None
) -> Schedule:
    """The schedule with the simulator's numbers recorded (`cimopt simulate`)."""

def check(
    schedule: _ScheduleArg, target: Union[_TargetArg, None] = None, set: _Set = None
) -> None:
    """Raises `ScheduleError` listing every violation when the schedule is not valid."""

def report(schedule: _ScheduleArg, format: str = "table", include_vector: bool = False) -> str:
    """`cimopt report` as `table`, `json`, `csv` or `html` text."""

def export(
    schedule: _ScheduleArg,
    format: str,
    *,
    layer: Union[int, None] = None,
    max_activations: int = 2000,
    output: Union[_Path, None] = None,
    force: bool = False,
) -> Export:
    """The schedule in another tool's terms (`cimopt export`): `timeloop`, `miredo`,
    `perfetto` or `gantt`. Issues `ExportWarning`s; writes to `output` when given."""

def import_schedule(
    documents: _Documents,
    format: str,
    *,
    output: Union[_Path, None] = None,
    force: bool = False,
) -> Schedule:
    """Documents another tool's format holds (`timeloop`) back into a schedule
    (`cimopt import`); writes it to `output` when given."""

@final
class Target:
    """An accelerator description, validated; `str()` is its commented TOML."""

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> Union[str, None]: ...
    @property
    def cores(self) -> int: ...
    @property
    def levels(self) -> list[str]: ...
    @property
    def capacity_bits(self) -> dict[str, int]: ...
    @property
    def spec(self) -> Union[str, None]: ...
    @property
    def overrides(self) -> list[str]: ...
    @property
    def sha256(self) -> str: ...
    def to_toml(self) -> str: ...
    def with_overrides(self, set: _Set) -> Target: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Schedule:
    """One mapping per CIM layer of a model on one target, with predicted (and simulated)
    numbers; `to_json()` is what `cimopt compile` writes."""

    __hash__: ClassVar[None]  # type: ignore[assignment]
    @property
    def layers(self) -> list[ScheduledLayer]: ...
    @property
    def total(self) -> Total: ...
    @property
    def target(self) -> Target: ...
    @property
    def model_file(self) -> str: ...
    @property
    def mapper(self) -> str: ...
    @property
    def objective(self) -> str: ...
    @property
    def solver_options(self) -> dict[str, str]: ...
    @property
    def skipped(self) -> list[dict[str, Any]]: ...
    @property
    def non_cim_ops(self) -> list[dict[str, Any]]: ...
    def to_json(self) -> str: ...
    def save(self, path: _Path, force: bool = False) -> None: ...
    @staticmethod
    def load(
        path: _Path, target: Union[_TargetArg, None] = None, set: _Set = None
    ) -> Schedule: ...
    @staticmethod
    def from_json(text: str) -> Schedule: ...
    def to_records(self) -> list[dict[str, Any]]: ...
    def to_pandas(self) -> Any:
        """A `pandas.DataFrame` of `to_records()` (needs pandas)."""
    def __len__(self) -> int: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Export:
    """A schedule in another tool's terms: the files `cimopt export` writes, with its
    warnings and notes; `str()` is what it prints without `-o`."""

    @property
    def format(self) -> str: ...
    @property
    def files(self) -> dict[str, str]:
        """Name -> text, in order."""
    @property
    def exact(self) -> dict[str, bool]:
        """Name -> whether the file says the schedule exactly."""
    @property
    def text(self) -> str: ...
    @property
    def warnings(self) -> list[str]: ...
    @property
    def notes(self) -> list[str]: ...
    def write(self, path: _Path, *, force: bool = False) -> list[Path]:
        """Writes as `cimopt export -o PATH` does; returns the paths written."""

@final
class Layer:
    """One CIM layer of a model and its loop-nest workload."""

    @property
    def index(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def op(self) -> str: ...
    @property
    def weight_kind(self) -> str: ...
    @property
    def dims(self) -> dict[str, int]: ...
    @property
    def h(self) -> int: ...
    @property
    def w(self) -> int: ...
    @property
    def stride(self) -> tuple[int, int]: ...
    @property
    def pad(self) -> tuple[int, int, int, int]: ...
    @property
    def dilation(self) -> tuple[int, int]: ...
    @property
    def macs(self) -> int: ...
    @property
    def weights(self) -> int: ...
    @property
    def dedup_group(self) -> int: ...
    @property
    def has_bias(self) -> bool: ...
    @property
    def onnx_nodes(self) -> list[str]: ...
    @property
    def bits(self) -> dict[str, Union[int, None]]: ...

@final
class ScheduledLayer:
    """One layer of a schedule: the layer, its mapping, its numbers, how it was found."""

    @property
    def index(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def op(self) -> str: ...
    @property
    def dims(self) -> dict[str, int]: ...
    @property
    def macs(self) -> int: ...
    @property
    def same_as(self) -> Union[int, None]: ...
    @property
    def layer(self) -> Layer: ...
    @property
    def mapping(self) -> Mapping: ...
    @property
    def predicted(self) -> Union[Metrics, None]: ...
    @property
    def simulated(self) -> Union[Metrics, None]: ...
    @property
    def solve(self) -> Solve: ...

@final
class Mapping:
    """A layer's mapping: spatial factors, temporal loops (outer to inner), double buffers,
    padded extents, and each operand's home level."""

    @property
    def spatial(self) -> list[SpatialFactor]: ...
    @property
    def temporal(self) -> list[TemporalLoop]: ...
    @property
    def double_buffer(self) -> list[tuple[str, str]]: ...
    @property
    def padded_dims(self) -> dict[str, int]: ...
    @property
    def home(self) -> dict[str, str]: ...

@final
class SpatialFactor:
    @property
    def axis(self) -> str: ...
    @property
    def dim(self) -> str: ...
    @property
    def factor(self) -> int: ...

@final
class TemporalLoop:
    @property
    def dim(self) -> str: ...
    @property
    def factor(self) -> int: ...
    @property
    def level(self) -> dict[str, str]: ...

@final
class Metrics:
    @property
    def latency_cycles(self) -> float: ...
    @property
    def energy_nj(self) -> float: ...
    @property
    def edp(self) -> float: ...
    @property
    def breakdown(self) -> dict[str, float]: ...

@final
class Solve:
    @property
    def mapper(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def objective(self) -> Union[float, None]: ...
    @property
    def best_bound(self) -> Union[float, None]: ...
    @property
    def gap(self) -> Union[float, None]: ...
    @property
    def space_bound(self) -> Union[float, None]: ...
    @property
    def space_gap(self) -> Union[float, None]: ...
    @property
    def wall_s(self) -> Union[float, None]: ...
    @property
    def candidates(self) -> Union[dict[str, int], None]: ...
    @property
    def warm_start(self) -> Union[bool, None]: ...
    @property
    def cache_hit(self) -> Union[bool, None]: ...
    @property
    def stop_reasons(self) -> list[str]: ...

@final
class Total:
    @property
    def latency_cycles(self) -> float: ...
    @property
    def energy_nj(self) -> float: ...
    @property
    def edp(self) -> float: ...
    @property
    def lower_bound_cycles(self) -> float: ...
    @property
    def simulated_latency_cycles(self) -> Union[float, None]: ...
    @property
    def simulated_energy_nj(self) -> Union[float, None]: ...

@final
class LayerMapped:
    """Progress of a compile: one distinct layer mapped (`stage` "map"), or one item of a
    later stage done ("memory plan": a variant priced; "polish", "certify": a distinct layer).
    `done` and `total` count the stage's items."""

    @property
    def done(self) -> int: ...
    @property
    def total(self) -> int: ...
    @property
    def layer(self) -> Layer: ...
    @property
    def copies(self) -> int: ...
    @property
    def cache_hit(self) -> bool: ...
    @property
    def stage(self) -> str: ...
    @property
    def detail(self) -> str: ...
