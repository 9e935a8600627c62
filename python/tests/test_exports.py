"""`cimopt.export` and `cimopt.import_schedule` against `cimopt export` and `cimopt import`: the
same documents byte for byte, the same warnings, notes and messages, the same output rules."""

import json
import shutil
import warnings
from pathlib import Path

import pytest

import cimopt
from conftest import ROOT

# Tests that do not look at the warnings do not list them in pytest's summary.
pytestmark = pytest.mark.filterwarnings("ignore::cimopt.ExportWarning")

GOLDEN = str(ROOT / "schedules/tiny_cnn.default.schedule.json")
# A frozen schedule of the tiny CNN whose layer 2 Timeloop cannot express exactly (its loop
# order puts the macro's fan-out the other way round; docs/exports.md says why): the golden
# schedules change as the optimiser improves, and may translate whole.
MIXED = str(ROOT / "tests/fixtures/tiny_cnn.default.inexact-timeloop.schedule.json")
FORMATS = ["timeloop", "miredo", "perfetto", "gantt"]


def said(export):
    """What the command prints on standard error for this export without `-o`."""
    return "".join(f"warning: {w}\n" for w in export.warnings) + "".join(
        f"note: {n}\n" for n in export.notes
    )


def export_heard(*args, **kwargs):
    """`cimopt.export(...)` and the messages of the `ExportWarning`s it issued."""
    with warnings.catch_warnings(record=True) as heard:
        warnings.simplefilter("always")
        e = cimopt.export(*args, **kwargs)
    issued = [str(w.message) for w in heard if issubclass(w.category, cimopt.ExportWarning)]
    assert len(issued) == len(heard), [str(w.message) for w in heard]
    return e, issued


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("layer", [None, 2])
def test_every_export_is_the_commands_byte_for_byte(cli, fmt, layer):
    flags = [] if layer is None else ["--layer", layer]
    p = cli.run("export", GOLDEN, "--format", fmt, *flags)
    e, issued = export_heard(GOLDEN, fmt, layer=layer)
    assert e.text == str(e) == p.stdout
    assert said(e) == p.stderr
    assert issued == e.warnings
    assert e.format == fmt
    # The same from a schedule in memory.
    again, _ = export_heard(cimopt.Schedule.load(GOLDEN), fmt, layer=layer)
    assert again.files == e.files and again.warnings == e.warnings and again.notes == e.notes
    assert list(e.exact) == list(e.files)
    if fmt == "timeloop" and layer is None:
        # One document per layer, which the stream on standard output joins.
        assert len(e.files) == len(cimopt.Schedule.load(GOLDEN)) == 5
        assert "---\n".join(e.files.values()) == p.stdout
        # Each layer that does not translate exactly says so.
        inexact = [name for name, ok in e.exact.items() if not ok]
        for name in inexact:
            layer_id = int(name[len("layer"):][:3])
            assert any(f"layer {layer_id}: not exact in Timeloop" in w for w in e.warnings)
        assert e.notes == [f"5 Timeloop documents ({5 - len(inexact)} exact)"]
    else:
        assert list(e.files.values()) == [p.stdout]


def test_a_layer_timeloop_cannot_express_is_flagged(cli):
    p = cli.run("export", MIXED, "--format", "timeloop")
    e, issued = export_heard(MIXED, "timeloop")
    assert e.text == p.stdout and said(e) == p.stderr and issued == e.warnings
    # The fixture's layer 2 does not translate exactly (docs/exports.md says why).
    assert [name for name, ok in e.exact.items() if not ok] == [
        n for n in e.files if n.startswith("layer002_")
    ]
    assert any("layer 2: not exact in Timeloop" in w for w in e.warnings)
    assert e.notes == ["5 Timeloop documents (4 exact)"]


def test_the_timeline_options_reach_the_library(cli):
    e, _ = export_heard(GOLDEN, "perfetto", layer=1, max_activations=3)
    p = cli.run("export", GOLDEN, "--format", "perfetto", "--layer", 1, "--max-activations", 3)
    assert e.text == p.stdout and said(e) == p.stderr
    assert e.notes and "first 3 of" in e.notes[0] and "summarised" in e.notes[0]
    trace = json.loads(e.text)
    assert trace["otherData"]["complete"] is False and trace["otherData"]["layer"] == 1
    full, _ = export_heard(GOLDEN, "perfetto", layer=1)
    assert full.notes == [] and json.loads(full.text)["otherData"]["complete"] is True
    g, _ = export_heard(GOLDEN, "gantt", layer=1, max_activations=3)
    assert g.text == cli.run(
        "export", GOLDEN, "--format", "gantt", "--layer", 1, "--max-activations", 3
    ).stdout
    assert g.text.startswith("<svg xmlns=")


@pytest.mark.parametrize("fmt,layer", [("timeloop", None), ("timeloop", 3), ("miredo", None),
                                       ("perfetto", 1), ("gantt", 4)])
def test_written_files_are_the_commands(cli, tmp_path, fmt, layer):
    flags = [] if layer is None else ["--layer", layer]
    if len(cimopt.export(GOLDEN, fmt, layer=layer).files) > 1:
        # Several files: into a folder made for them.
        mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    else:
        # One file: to a file, as -o FILE.
        mine, theirs = tmp_path / "mine.out", tmp_path / "theirs.out"
    e = cimopt.export(GOLDEN, fmt, layer=layer)
    written = e.write(mine)
    cli.run("export", GOLDEN, "--format", fmt, *flags, "-o", theirs)
    if mine.is_dir():
        assert written == [mine / name for name in e.files]
        assert sorted(p.name for p in theirs.iterdir()) == sorted(e.files)
        for name, text in e.files.items():
            assert (mine / name).read_text() == (theirs / name).read_text() == text
    else:
        assert written == [mine]
        assert mine.read_bytes() == theirs.read_bytes() == e.text.encode()
    # `output=` writes as `Export.write` does, and the export is still returned.
    out = tmp_path / ("out" if mine.is_dir() else "out.file")
    again = cimopt.export(GOLDEN, fmt, layer=layer, output=out)
    assert again.files == e.files
    if mine.is_dir():
        assert sorted(p.name for p in out.iterdir()) == sorted(e.files)
    else:
        assert out.read_text() == e.text
    # Nothing else (no temporary file) is left.
    assert not [p for p in tmp_path.rglob(".cimopt-*")]


def mappings(schedule):
    return {l["id"]: l["mapping"] for l in json.loads(schedule.to_json())["layers"]}


def test_timeloop_round_trip_gives_the_same_mappings(cli, tmp_path):
    s = cimopt.Schedule.load(MIXED)
    e, _ = export_heard(s, "timeloop")
    exact = {name: text for name, text in e.files.items() if e.exact[name]}
    assert 0 < len(exact) < len(e.files)
    back = cimopt.import_schedule(exact, "timeloop")
    cimopt.check(back)
    original = mappings(s)
    got = mappings(back)
    assert len(got) == len(exact)
    for layer_id, mapping in got.items():
        assert mapping == original[layer_id], layer_id
    assert {l.solve.mapper for l in back.layers} == {"timeloop-import"}
    # Through files, as the command reads them: the same schedule, byte for byte.
    folder = tmp_path / "tl"
    e.write(folder)
    for name, ok in e.exact.items():
        if not ok:
            (folder / name).unlink()
    from_folder = cimopt.import_schedule(folder, "timeloop")
    paths = sorted(folder.iterdir())
    from_list = cimopt.import_schedule([str(p) for p in paths], "timeloop")
    p = cli.run("import", "--format", "timeloop", folder)
    assert from_folder.to_json() == from_list.to_json() == p.stdout
    assert mappings(from_folder) == got
    out = tmp_path / "back.json"
    cimopt.import_schedule(folder, "timeloop", output=out)
    assert out.read_text() == p.stdout
    # Exporting the imported schedule gives the same documents.
    for name, text in cimopt.export(back, "timeloop").files.items():
        assert exact[name] == text
    # An export of one exact layer imports as it is.
    one = next(int(n[len("layer"):][:3]) for n in exact)
    single = cimopt.export(s, "timeloop", layer=one)
    assert mappings(cimopt.import_schedule(single, "timeloop")) == {one: original[one]}


def test_an_inexact_document_is_refused_with_the_commands_message(cli, tmp_path):
    e, _ = export_heard(MIXED, "timeloop", layer=2)
    assert e.exact == {name: False for name in e.files}
    f = tmp_path / "layer2.yaml"
    e.write(f)
    with pytest.raises(cimopt.ScheduleError) as raised:
        cimopt.import_schedule(f, "timeloop")
    assert str(raised.value) == cli.error("import", "--format", "timeloop", f)
    assert "was not exact" in str(raised.value)
    with pytest.raises(cimopt.ScheduleError, match="was not exact"):
        cimopt.import_schedule(e, "timeloop")


def test_export_errors_are_the_commands(cli, tmp_path):
    for fmt, layer in [("miredo", 7), ("perfetto", 9), ("timeloop", 5), ("gantt", 100)]:
        with pytest.raises(cimopt.OptionsError) as raised:
            cimopt.export(GOLDEN, fmt, layer=layer, output=tmp_path / "x")
        assert str(raised.value) == cli.error(
            "export", GOLDEN, "--format", fmt, "--layer", layer, "-o", tmp_path / "x"
        )
        assert f"there is no layer {layer}: the schedule has 5 layers" in str(raised.value)
    assert not (tmp_path / "x").exists()
    # The command's parser refuses an unknown format before it runs (a usage error, exit 2);
    # the package says the same list of formats.
    with pytest.raises(cimopt.OptionsError) as raised:
        cimopt.export(GOLDEN, "onnx")
    assert str(raised.value) == (
        "unknown export format `onnx` (expected timeloop, miredo, perfetto or gantt)"
    )
    usage = cli.run("export", GOLDEN, "--format", "onnx", ok=False)
    assert usage.returncode == 2 and "timeloop" in usage.stderr and "gantt" in usage.stderr
    with pytest.raises(OverflowError):
        cimopt.export(GOLDEN, "miredo", layer=-1)
    with pytest.raises(TypeError, match="schedule"):
        cimopt.export(42, "miredo")
    # A schedule file that does not read: the command's message, the same class as elsewhere.
    missing = tmp_path / "missing.json"
    with pytest.raises(cimopt.Error) as raised:
        cimopt.export(missing, "miredo")
    assert str(raised.value) == cli.error("export", missing, "--format", "miredo")
    doc = json.loads(Path(GOLDEN).read_text())
    doc["layers"][0]["mapping"]["temporal"][0]["factor"] *= 3
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(cimopt.ScheduleError) as raised:
        cimopt.export(bad, "timeloop")
    assert str(raised.value) == cli.error("export", bad, "--format", "timeloop")


def test_import_errors_are_the_commands(cli, tmp_path):
    junk = tmp_path / "junk.yaml"
    junk.write_text("problem: {}\n")
    out = tmp_path / "x.json"
    with pytest.raises(cimopt.ScheduleError) as raised:
        cimopt.import_schedule(junk, "timeloop", output=out)
    assert str(raised.value) == cli.error("import", "--format", "timeloop", junk, "-o", out)
    assert "junk.yaml" in str(raised.value) and "ignore_cimopt" in str(raised.value)
    assert not out.exists()
    not_yaml = tmp_path / "broken.yaml"
    not_yaml.write_text("a: [\n")
    with pytest.raises(cimopt.ScheduleError) as raised:
        cimopt.import_schedule(not_yaml, "timeloop")
    assert str(raised.value) == cli.error("import", "--format", "timeloop", not_yaml)
    # Texts given by name are named so.
    with pytest.raises(cimopt.ScheduleError, match=r"^mine\.yaml: document 0: not YAML"):
        cimopt.import_schedule({"mine.yaml": "a: [\n"}, "timeloop")
    # Files and folders that cannot be read.
    missing = tmp_path / "missing.yaml"
    with pytest.raises(cimopt.Error) as raised:
        cimopt.import_schedule(missing, "timeloop")
    assert type(raised.value) is cimopt.Error
    assert str(raised.value) == cli.error("import", "--format", "timeloop", missing)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(cimopt.Error) as raised:
        cimopt.import_schedule(empty, "timeloop")
    assert str(raised.value) == cli.error("import", "--format", "timeloop", empty)
    assert "has no .yaml file" in str(raised.value)
    with pytest.raises(cimopt.ScheduleError, match="no Timeloop document to import"):
        cimopt.import_schedule([], "timeloop")
    with pytest.raises(cimopt.OptionsError, match=r"unknown import format `miredo` \(expected timeloop\)"):
        cimopt.import_schedule(junk, "miredo")
    with pytest.raises(TypeError, match="documents"):
        cimopt.import_schedule(42, "timeloop")
    with pytest.raises(TypeError, match="documents"):
        cimopt.import_schedule([junk, 42], "timeloop")
    with pytest.raises(TypeError, match="documents: a dict"):
        cimopt.import_schedule({"a.yaml": b"bytes"}, "timeloop")
    # A document's text where a path belongs is said, not looked for as a file.
    text = cimopt.export(GOLDEN, "timeloop", layer=0).text
    for wrong in (text, [text]):
        with pytest.raises(TypeError, match=r"documents: a str names a file .*\{name: text\}"):
            cimopt.import_schedule(wrong, "timeloop")


def test_writes_follow_the_commands_output_rules(cli, tmp_path, monkeypatch):
    s_json = tmp_path / "s.json"
    shutil.copy(GOLDEN, s_json)
    before = s_json.read_bytes()
    # Never over the schedule being exported: the file given, or the one loaded.
    with pytest.raises(cimopt.Error) as raised:
        cimopt.export(s_json, "miredo", output=s_json)
    assert str(raised.value) == cli.error("export", s_json, "--format", "miredo", "-o", s_json)
    assert "the schedule being exported" in str(raised.value)
    loaded = cimopt.Schedule.load(s_json)
    e = cimopt.export(loaded, "miredo")
    with pytest.raises(cimopt.Error, match="the schedule being exported"):
        e.write(s_json)
    link = tmp_path / "link.json"
    link.symlink_to(s_json)
    with pytest.raises(cimopt.Error, match="the schedule being exported"):
        e.write(link, force=True)
    # Also from another working folder than the one the schedule was loaded from.
    monkeypatch.chdir(tmp_path)
    relative = cimopt.export(cimopt.Schedule.load("s.json"), "miredo")
    monkeypatch.chdir(ROOT)
    with pytest.raises(cimopt.Error, match="the schedule being exported"):
        relative.write(s_json)
    assert s_json.read_bytes() == before
    # A schedule made in memory has no file to protect; saving it back is the user's call.
    cimopt.export(cimopt.Schedule.from_json(before.decode()), "miredo").write(tmp_path / "m.json")
    # A read-only file is kept unless force=True (the command's message, naming the keyword).
    ro = tmp_path / "ro.json"
    ro.write_text("keep")
    ro.chmod(0o444)
    with pytest.raises(cimopt.Error) as raised:
        e.write(ro)
    message = cli.error("export", s_json, "--format", "miredo", "-o", ro)
    assert str(raised.value) == message.replace("use --force", "pass force=True")
    assert ro.read_text() == "keep"
    assert e.write(ro, force=True) == [ro]
    assert ro.read_text() == e.text and (ro.stat().st_mode & 0o777) == 0o444
    # One file into an existing folder goes under its own name.
    folder = tmp_path / "into"
    folder.mkdir()
    g = cimopt.export(s_json, "gantt", layer=1)
    [written] = g.write(folder)
    assert written.parent == folder and written.name == next(iter(g.files))
    assert written.name.startswith("layer001_") and written.name.endswith(".gantt.svg")
    # Several files need a folder whose parent exists, and not a file.
    tl = cimopt.export(s_json, "timeloop")
    for where in [tmp_path / "missing" / "tl", ro]:
        with pytest.raises(cimopt.Error) as raised:
            tl.write(where)
        assert str(raised.value) == cli.error("export", s_json, "--format", "timeloop", "-o", where)
    # Never over a document being imported; a read-only output only with force=True.
    docs = tmp_path / "tl"
    tl.write(docs)
    exact = [docs / n for n, ok in tl.exact.items() if ok]
    kept = exact[0].read_text()
    with pytest.raises(cimopt.Error) as raised:
        cimopt.import_schedule(exact, "timeloop", output=exact[0])
    assert str(raised.value) == cli.error(
        "import", "--format", "timeloop", *exact, "-o", exact[0]
    )
    assert "a document being imported" in str(raised.value)
    assert exact[0].read_text() == kept
    with pytest.raises(cimopt.Error, match="read-only .*force=True"):
        cimopt.import_schedule(exact, "timeloop", output=ro)
    back = cimopt.import_schedule(exact, "timeloop", output=ro, force=True)
    assert ro.read_text() == back.to_json()
    assert not [p for p in tmp_path.rglob(".cimopt-*")]


def test_export_warnings_can_be_silenced_or_raised():
    with warnings.catch_warnings():
        warnings.simplefilter("error", cimopt.ExportWarning)
        with pytest.raises(cimopt.ExportWarning, match="no residency"):
            cimopt.export(GOLDEN, "miredo")
    with warnings.catch_warnings(record=True) as heard:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", cimopt.ExportWarning)
        e = cimopt.export(GOLDEN, "miredo")
    assert heard == [] and len(e.warnings) == 1
    assert issubclass(cimopt.ExportWarning, UserWarning)
    assert repr(e) == "Export(miredo, 1 file(s), 1 warning(s))"
