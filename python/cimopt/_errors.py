"""The exceptions cimopt raises and the warnings it issues. ``str(e)`` is the message the
``cimopt`` command prints after ``error:`` (or ``warning:``) for the same input."""


class Error(Exception):
    """Base of every cimopt error (also raised as such when no kind below fits: a file that
    cannot be read or written)."""


class ModelError(Error):
    """The ONNX model cannot be read or lowered to layers (a missing or corrupt file, a
    symbolic input without ``input_shapes``, an unsupported compute node)."""


class TargetError(Error):
    """The target is not valid: an unknown preset, a bad TOML file, or an override
    (``set=``) naming an unknown key or giving a bad value."""


class UnmappableError(Error):
    """No mapping of a layer fits the target (or every layer was skipped with
    ``keep_going=True``)."""


class ScheduleError(Error):
    """A schedule cannot be read, or is not valid on its target. ``violations`` lists every
    violation, one line each (empty when the document did not read at all)."""

    violations: "list[str]" = []


class OptionsError(Error, ValueError):
    """An option value out of range or unknown (``gap=2``, ``mapper="fast"``, an export's
    ``layer`` that the schedule does not have)."""


class ExportWarning(UserWarning):
    """Something an export cannot say exactly in the other tool's terms (a warning of
    ``cimopt export``; also in ``Export.warnings``). Silence them with
    ``warnings.simplefilter("ignore", cimopt.ExportWarning)``."""


# Shown as `cimopt.ModelError` (the names `cimopt` exports), not as this module's.
for _class in (
    Error, ModelError, TargetError, UnmappableError, ScheduleError, OptionsError, ExportWarning
):
    _class.__module__ = "cimopt"
del _class
