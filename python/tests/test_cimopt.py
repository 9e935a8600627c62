"""The Python package against the `cimopt` command: the same numbers, bytes and messages."""

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import cimopt
from conftest import ROOT, TINY


def test_targets_print_as_the_commands_toml(cli):
    assert cimopt.targets() == ["default", "transformer"]
    for name in cimopt.targets():
        assert str(cimopt.target(name)) == cli.run("targets", "show", name).stdout
    t = cimopt.target("default", set={"cores": 16, "levels.global_buffer.capacity": "512KiB"})
    assert t.cores == 16
    assert t.capacity_bits["global_buffer"] == 512 * 1024 * 8
    assert t.overrides == ["cores=16", "levels.global_buffer.capacity=512KiB"]
    shown = cli.run(
        "targets", "show", "default", "--set", "cores=16",
        "--set", "levels.global_buffer.capacity=512KiB",
    ).stdout
    assert str(t) == shown == t.to_toml()
    # The same overrides as a list of KEY=VALUE strings, or applied afterwards.
    assert cimopt.target("default", set=["cores=16", "levels.global_buffer.capacity=512KiB"]) == t
    assert cimopt.target("default").with_overrides({"cores": 16}).cores == 16


def test_a_target_file_loads_like_a_preset(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text(str(cimopt.target("default", set={"cores": 4})))
    t = cimopt.target(f)
    assert t.cores == 4
    assert t.spec == str(f)
    assert t == cimopt.target("default", set={"cores": 4})


def test_inspect_lists_the_commands_layers(cli):
    layers = cimopt.inspect(TINY)
    doc = json.loads(cli.run("inspect", TINY, "--json").stdout)
    assert len(layers) == len(doc["layers"]) > 0
    for l, j in zip(layers, doc["layers"]):
        assert l.index == j["index"] and l.name == j["name"] and l.op == j["op"]
        assert l.dims == {d: j[d.lower()] for d in "RSPQCKGB"}
        assert list(l.dims) == list("RSPQCKGB")
        assert (l.macs, l.weights, l.dedup_group) == (j["macs"], j["weights"], j["dedup_group"])
        assert list(l.stride) == j["stride"] and list(l.pad) == j["pad"]
        assert l.weight_kind == j["weight_kind"] and l.onnx_nodes == j["onnx_nodes"]
        assert l.bits == j["bits"]
    assert "Layer(0" in repr(layers[0])


def test_layers_carry_their_bit_widths(cli, tmp_path):
    """A model's layers carry the widths it gives (None: float, the target's applies); a
    schedule's layers the widths they run at, as the command's schedule records them."""
    q4 = "models/quantized/llama_tiny_q4.onnx"
    given = {l.name: l.bits for l in cimopt.inspect(q4)}
    assert given["/model/layers.0/self_attn/q_proj/MatMul_Q4"] == {
        "input": None, "weight": 4, "output": None}
    s = cimopt.compile(q4, "default", mapper="greedy", cache=False)
    out = tmp_path / "q4.json"
    cli.run("compile", q4, "--target", "default", "--mapper", "greedy", "--no-cache", "-q", "-o", out)
    doc = json.loads(out.read_text())
    assert s.to_json() == out.read_text()
    for l, j in zip(s.layers, doc["layers"]):
        p = j["precision"]
        assert l.layer.bits == {
            "input": p["input_bits"], "weight": p["weight_bits"], "output": p["output_bits"]}
    assert sum(l.layer.bits["weight"] == 4 for l in s.layers) == 15
    # to_records() (and to_pandas()) carry the same widths, one column per operand.
    for r, j in zip(s.to_records(), doc["layers"]):
        p = j["precision"]
        assert (r["input_bits"], r["weight_bits"], r["output_bits"]) == (
            p["input_bits"], p["weight_bits"], p["output_bits"])
    # precision="target" is --precision target: every layer at the target's 8 bits.
    t = cimopt.compile(q4, "default", mapper="greedy", cache=False, precision="target")
    assert all(l.layer.bits == {"input": 8, "weight": 8, "output": 8} for l in t.layers)
    with pytest.raises(cimopt.OptionsError, match="unknown precision source `fp8`"):
        cimopt.compile(q4, "default", precision="fp8")


def compile_both(cli, tmp_path, cache, *flags, **kwargs):
    """The same compile by the package and by the command (which then reads the package's
    cached solves, as a second compile with the same cache would)."""
    s = cimopt.compile(TINY, "default", cache=cache, **kwargs)
    out = tmp_path / "cli.schedule.json"
    cli.run("compile", TINY, "--target", "default", *flags, "-q", "-o", out)
    return s, out


def test_compile_gives_the_commands_schedule_and_totals(cli, tmp_path, cache):
    s, out = compile_both(cli, tmp_path, cache)
    doc = json.loads(out.read_text())
    total = s.total
    assert total.latency_cycles == doc["model"]["latency_cycles"]
    assert total.energy_nj == doc["model"]["energy_nj"]
    assert total.edp == doc["model"]["edp"]
    assert total.lower_bound_cycles == doc["model"]["lower_bound_cycles"]
    assert total.simulated_latency_cycles == doc["model"]["simulated_latency_cycles"]
    assert total.simulated_energy_nj == doc["model"]["simulated_energy_nj"]
    # Not only the totals: the whole document, byte for byte.
    assert s.to_json() == out.read_text()
    assert s.mapper == "mip" and s.objective == "edp" and s.model_file == TINY
    layers = s.layers
    assert len(layers) == len(s) == len(doc["layers"])
    for l, j in zip(layers, doc["layers"]):
        assert (l.index, l.name, l.op) == (j["id"], j["name"], j["op"])
        assert l.predicted.latency_cycles == j["predicted"]["latency_cycles"]
        assert l.predicted.energy_nj == j["predicted"]["energy_nj"]
        assert l.simulated.latency_cycles == j["simulated"]["latency_cycles"]
        assert l.predicted.breakdown == j["predicted"]["breakdown"]
        assert l.solve.status == j["solve"]["status"] and l.solve.mapper == "mip"
        assert l.dims == {d: j["dims"][d] for d in "RSPQCKGB"}
        m, jm = l.mapping, j["mapping"]
        assert [(f.axis, f.dim, f.factor) for f in m.spatial] == [
            (f["axis"], f["dim"], f["factor"]) for f in jm["spatial"]
        ]
        assert [(t.dim, t.factor, t.level) for t in m.temporal] == [
            (t["dim"], t["factor"], t["level"]) for t in jm["temporal"]
        ]
        assert [list(b) for b in m.double_buffer] == [
            [b["level"], b["operand"]] for b in jm["double_buffer"]
        ]


def test_residency_off_is_the_commands_residency_off(cli, tmp_path, cache):
    off = cimopt.compile(TINY, "default", mapper="greedy", simulate=False, cache=False, residency=False)
    out = tmp_path / "off.json"
    cli.run(
        "compile", TINY, "--target", "default", "--mapper", "greedy", "--residency", "off",
        "--no-simulate", "--no-cache", "-q", "-o", out,
    )
    assert off.to_json() == out.read_text()
    on = cimopt.compile(TINY, "default", mapper="greedy", simulate=False, cache=False)
    # Activations kept on chip cost less than every tensor through DRAM.
    assert on.total.energy_nj < off.total.energy_nj
    assert on.total.edp < off.total.edp


def test_certify_is_the_commands_certify(cli, tmp_path, cache):
    s = cimopt.compile(TINY, "transformer", simulate=False, cache=False, certify=300)
    out = tmp_path / "c.json"
    cli.run(
        "compile", TINY, "--target", "transformer", "--certify", "300",
        "--no-simulate", "--no-cache", "-q", "-o", out,
    )
    assert s.to_json() == out.read_text()
    # Two of the tiny CNN's layers fit in 300 skeletons and are proven over every mapping.
    assert sum(l.solve.status == "optimal" for l in s.layers) >= 2


def test_compile_options_reach_the_library(cli, tmp_path, cache):
    t = cimopt.target("default", set={"cores": 16})
    s = cimopt.compile(TINY, t, mapper="greedy", objective="latency", simulate=False, cache=False)
    out = tmp_path / "g.json"
    cli.run(
        "compile", TINY, "--target", "default", "--set", "cores=16", "--mapper", "greedy",
        "--objective", "latency", "--no-simulate", "--no-cache", "-q", "-o", out,
    )
    assert s.to_json() == out.read_text()
    assert s.total.simulated_latency_cycles is None
    assert all(l.simulated is None for l in s.layers)
    assert s.target == t
    # A compile's target may carry overrides, and `set` adds more, as repeated --set do.
    assert cimopt.compile(
        TINY, "default", set={"cores": 16}, mapper="greedy", objective="latency",
        simulate=False, cache=False,
    ).to_json() == out.read_text()


def test_the_solve_cache_is_the_commands(tmp_path, monkeypatch):
    env_cache = tmp_path / "env-cache"
    monkeypatch.setenv("CIMOPT_CACHE_DIR", str(env_cache))
    cimopt.compile(TINY, "default", cache=False)
    assert not env_cache.exists()
    cimopt.compile(TINY, "default")  # cache=True by default: $CIMOPT_CACHE_DIR
    assert any(env_cache.iterdir())
    mine = tmp_path / "mine"
    cimopt.compile(TINY, "default", cache=str(mine))
    assert any(mine.iterdir())
    monkeypatch.delenv("CIMOPT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cimopt.compile(TINY, "default", cache=True)
    assert any((tmp_path / "xdg" / "cimopt").iterdir())
    # With timings the schedule says which layers the cache served.
    s = cimopt.compile(TINY, "default", cache=mine, timings=True)
    assert all(l.solve.cache_hit for l in s.layers if l.same_as is None)


def test_load_save_round_trip_is_byte_identical(cli, tmp_path, cache):
    written = tmp_path / "cli.json"
    cli.run("compile", TINY, "--target", "default", "-q", "-o", written)
    s = cimopt.Schedule.load(written)
    assert s.to_json() == written.read_text()
    out = tmp_path / "copy.json"
    s.save(out)
    assert out.read_bytes() == written.read_bytes()
    assert cimopt.Schedule.load(out) == s
    assert cimopt.Schedule.from_json(written.read_text()) == s
    # A document of an older 1.x version reads, and what it says survives a round trip.
    golden = cimopt.Schedule.load(ROOT / "schedules/tiny_cnn.default.schedule.json")
    assert cimopt.Schedule.from_json(golden.to_json()).to_json() == golden.to_json()
    # Atomic: no temporary file is left beside it; a read-only file is kept unless forced.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == [
        "cli.json", "copy.json"
    ]
    out.chmod(0o444)
    with pytest.raises(cimopt.Error, match="read-only .*force=True"):
        s.save(out)
    s.save(out, force=True)
    assert out.read_bytes() == written.read_bytes()
    with pytest.raises(cimopt.Error, match="the folder .* does not exist"):
        s.save(tmp_path / "nowhere" / "x.json")


def test_reports_are_the_commands(cli, tmp_path):
    golden = "schedules/tiny_cnn.default.schedule.json"
    s = cimopt.Schedule.load(golden)
    for fmt in ["table", "json", "csv", "html"]:
        expected = cli.run("report", golden, "--format", fmt).stdout
        assert cimopt.report(s, format=fmt) == expected, fmt
        assert cimopt.report(golden, format=fmt) == expected, fmt
    assert cimopt.report(s) == cli.run("report", golden).stdout
    assert cimopt.report(s, format="html").startswith("<!DOCTYPE html>")
    with pytest.raises(cimopt.OptionsError, match="unknown report format `pdf`"):
        cimopt.report(s, format="pdf")


def test_simulate_records_the_commands_numbers(cli, tmp_path, cache):
    s = cimopt.compile(TINY, "default", cache=cache, simulate=False)
    f = tmp_path / "s.json"
    s.save(f)
    sim = cimopt.simulate(s)
    assert cimopt.simulate(f) == sim
    doc = json.loads(cli.run("simulate", f, "--json").stdout)
    assert sim.total.simulated_latency_cycles == doc["model"]["latency_cycles"]
    assert sim.total.simulated_energy_nj == doc["model"]["energy_nj"]
    for l, j in zip(sim.layers, doc["layers"]):
        assert l.simulated.latency_cycles == j["latency_cycles"]
        assert l.simulated.breakdown == j["breakdown"]
    assert sim.to_json() == cimopt.compile(TINY, "default", cache=cache).to_json()
    # On another target (where the schedule is valid): the command's numbers there.
    on16 = cimopt.simulate(s, set={"leakage_nj_per_cycle": 0.5})
    doc16 = json.loads(
        cli.run("simulate", f, "--set", "leakage_nj_per_cycle=0.5", "--json").stdout
    )
    assert on16.total.simulated_energy_nj == doc16["model"]["energy_nj"]


def test_sweep_over_cores_in_python_equals_the_commands_sweep(cli, tmp_path, cache):
    cores = [2, 4, 8, 16]
    rows = []
    for n in cores:
        s = cimopt.compile(TINY, cimopt.target("default", set={"cores": n}), cache=cache)
        t = s.total
        rows.append([n, t.latency_cycles, t.energy_nj, t.edp, t.lower_bound_cycles,
                     t.simulated_latency_cycles])
    out = tmp_path / "sweep.csv"
    cli.run("sweep", TINY, "--target", "default", "--set", "cores=" + ",".join(map(str, cores)),
            "-q", "--csv", out)
    table = list(csv.reader(io.StringIO(out.read_text())))
    assert table[0] == ["cores", "latency_cycles", "energy_nj", "edp", "lower_bound_cycles",
                        "simulated_latency_cycles"]
    assert [[int(r[0])] + [float(x) for x in r[1:]] for r in table[1:]] == rows


def test_progress_hears_every_distinct_layer(cache):
    heard = []
    s = cimopt.compile(TINY, "default", cache=cache, progress=heard.append)
    distinct = [l for l in s.layers if l.same_as is None]
    mapped = [e for e in heard if e.stage == "map"]
    assert sorted(e.done for e in mapped) == list(range(1, len(distinct) + 1))
    assert all(e.total == len(distinct) for e in mapped)
    assert sorted(e.layer.index for e in mapped) == [l.index for l in distinct]
    assert all(isinstance(e.cache_hit, bool) and e.copies >= 1 for e in heard)
    # The later stages come after the mapping, each counting its own items.
    stages = [e.stage for e in heard]
    assert stages[: len(mapped)] == ["map"] * len(mapped)
    assert "memory plan" in stages and "polish" in stages and stages[-1] == "certify"
    assert all(1 <= e.done <= e.total for e in heard)
    # certify=0 turns the last stage off.
    plain = []
    cimopt.compile(TINY, "default", cache=cache, certify=0, progress=plain.append)
    assert "polish" in [e.stage for e in plain] and "certify" not in [e.stage for e in plain]
    certified = []
    cimopt.compile(TINY, "transformer", cache=cache, certify=50, progress=certified.append)
    last = [e for e in certified if e.stage == "certify"]
    assert sorted(e.done for e in last) == list(range(1, len(last) + 1)) and last
    assert all("gap" in e.detail for e in last)

    class Stop(Exception):
        pass

    def stop(_):
        raise Stop("enough")

    with pytest.raises(Stop, match="enough"):
        cimopt.compile(TINY, "default", cache=False, progress=stop)
    with pytest.raises(TypeError, match="progress"):
        cimopt.compile(TINY, "default", progress=42)


def test_compile_releases_the_interpreter(cache):
    ticks = []
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.005)

    counter = threading.Thread(target=count)
    counter.start()
    try:
        start = time.monotonic()
        cimopt.compile("models/resnet18.onnx", "default", mapper="greedy", cache=False)
        end = time.monotonic()
    finally:
        done.set()
        counter.join()
    during = [t for t in ticks if start < t < end]
    # The other thread ran along (with the interpreter held it could not tick at all; the
    # margin is for a loaded machine).
    assert len(during) >= max(10, 0.1 * (end - start) / 0.005), (len(during), end - start)


def test_ctrl_c_interrupts_a_compile_cleanly(tmp_path):
    # Ctrl-C once the compile is under way (its first layer mapped), not after a fixed sleep:
    # how far a compile gets in a given time depends on the machine and on the compile's speed.
    # Python installs its KeyboardInterrupt handler only where SIGINT is not ignored, and a
    # runner started as a background job of a non-interactive shell ignores it (its children
    # inherit that): the child sets the handler a terminal's Python has.
    script = (
        "import cimopt, signal, sys, time\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "t0 = time.monotonic()\n"
        "def progress(event):\n"
        "    if event.done == 1:\n"
        "        print('started', flush=True)\n"
        "try:\n"
        "    cimopt.compile('models/resnet50.onnx', 'default', cache=False, progress=progress)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
        "    sys.exit(3)\n"
        "print(f'finished after {time.monotonic() - t0:.1f} s', flush=True)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    first = p.stdout.readline()
    assert first.strip() == "started", (first, p.communicate(timeout=300))
    start = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 3, (p.returncode, out, err)
    assert out.strip() == "interrupted"
    # Stopped between layers (after the solves under way), not after the whole model.
    assert time.monotonic() - start < 60


ERRORS = [
    (cimopt.ModelError, ["models/nope.onnx", "default"], {}),
    (cimopt.TargetError, [TINY, "nope"], {}),
    (cimopt.TargetError, [TINY, "default"], {"set": {"levels[2].capacity": 0}}),
    (cimopt.TargetError, [TINY, "default"], {"set": {"no_such_key": 1}}),
    (cimopt.TargetError, [TINY, "default"], {"set": {"cores": True}}),
    (cimopt.UnmappableError, [TINY, "default"], {"set": {"levels.dram.capacity": 64}}),
    (cimopt.UnmappableError, [TINY, "default"],
     {"set": {"levels.dram.capacity": 64}, "keep_going": True}),
    (cimopt.OptionsError, [TINY, "default"], {"gap": 2.0}),
    (cimopt.OptionsError, [TINY, "default"], {"threads": 0}),
]


def as_flags(kwargs):
    flags = []
    for k, v in kwargs.get("set", {}).items():
        flags += ["--set", f"{k}={str(v).lower() if isinstance(v, bool) else v}"]
    if kwargs.get("keep_going"):
        flags.append("--keep-going")
    if "gap" in kwargs:
        flags += ["--gap", "2"]
    if "threads" in kwargs:
        flags += ["--threads", "0"]
    return flags


@pytest.mark.parametrize("kind,args,kwargs", ERRORS)
def test_errors_are_the_commands(cli, tmp_path, kind, args, kwargs):
    with pytest.raises(kind) as e:
        cimopt.compile(*args, cache=False, **kwargs)
    assert isinstance(e.value, cimopt.Error)
    message = cli.error("compile", args[0], "--target", args[1], *as_flags(kwargs),
                        "--no-cache", "-o", tmp_path / "x.json")
    if kind is cimopt.UnmappableError and not kwargs.get("keep_going"):
        # The command's hint names its flag; the package's its keyword.
        message = message.replace("--keep-going", "keep_going=True")
    assert str(e.value) == message


def test_a_corrupt_model_is_a_model_error(cli, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage, not a protobuf")
    with pytest.raises(cimopt.ModelError) as e:
        cimopt.compile(bad, "default")
    assert str(e.value) == cli.error("compile", bad, "--target", "default", "-o", tmp_path / "x.json")
    with pytest.raises(cimopt.ModelError) as e:
        cimopt.inspect(bad)
    assert str(e.value) == cli.error("inspect", bad)
    with pytest.raises(cimopt.ModelError) as e:
        cimopt.inspect(TINY, input_shapes={"nope": (1, 3, 8, 8)})
    assert str(e.value) == cli.error("inspect", TINY, "--input-shape", "nope=1x3x8x8")


def broken_schedule(tmp_path):
    doc = json.loads((ROOT / "schedules/tiny_cnn.default.schedule.json").read_text())
    doc["layers"][0]["mapping"]["temporal"][0]["factor"] *= 3
    doc["layers"][1]["mapping"]["temporal"][0]["level"]["W"] = "output_buffer"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc, indent=2))
    return bad


def test_an_invalid_schedule_raises_every_violation(cli, tmp_path):
    bad = broken_schedule(tmp_path)
    with pytest.raises(cimopt.ScheduleError) as e:
        cimopt.Schedule.load(bad)
    assert str(e.value) == cli.error("report", bad)
    listed = cli.run("check", bad, ok=False)
    assert listed.returncode == 1
    lines = listed.stdout.splitlines()
    assert lines[-1] == f"{bad}: {len(lines) - 1} error(s)"
    assert e.value.violations == lines[:-1] and len(lines) > 2
    for reader in (cimopt.check, cimopt.simulate, cimopt.report):
        with pytest.raises(cimopt.ScheduleError) as e2:
            reader(bad)
        assert str(e2.value) == str(e.value)
    # A valid schedule checked on a target where it does not fit.
    good = "schedules/tiny_cnn.default.schedule.json"
    cimopt.check(good)
    cimopt.check(cimopt.Schedule.load(good))
    with pytest.raises(cimopt.ScheduleError) as e3:
        cimopt.check(good, set={"levels.dram.capacity": 1})
    listed = cli.run("check", good, "--set", "levels.dram.capacity=1", ok=False).stdout.splitlines()
    assert e3.value.violations == listed[:-1]
    with pytest.raises(cimopt.ScheduleError) as e4:
        cimopt.check(cimopt.Schedule.load(good), set={"levels.dram.capacity": 1})
    assert e4.value.violations == listed[:-1]
    with pytest.raises(cimopt.ScheduleError, match="not valid JSON"):
        cimopt.Schedule.from_json("{")
    with pytest.raises(cimopt.ScheduleError, match="schema: missing"):
        cimopt.Schedule.from_json("{}")


def test_unknown_fields_are_warned_about(tmp_path):
    doc = json.loads((ROOT / "schedules/tiny_cnn.default.schedule.json").read_text())
    doc["layers"][0]["colour"] = "blue"
    f = tmp_path / "extra.json"
    f.write_text(json.dumps(doc))
    with pytest.warns(UserWarning, match=r"ignoring unknown field `layers\[0\]\.colour`"):
        cimopt.Schedule.load(f)


def test_to_pandas(cache):
    pandas = pytest.importorskip("pandas")
    s = cimopt.compile(TINY, "default", cache=cache)
    df = s.to_pandas()
    assert isinstance(df, pandas.DataFrame)
    assert len(df) == len(s)
    assert list(df["id"]) == [l.index for l in s.layers]
    assert df["predicted_latency_cycles"].sum() == pytest.approx(s.total.latency_cycles)
    assert list(df["simulated_energy_nj"]) == [l.simulated.energy_nj for l in s.layers]
    assert list(df.columns[:3]) == ["id", "name", "op"]


def test_to_pandas_without_pandas_says_so(monkeypatch, cache):
    s = cimopt.Schedule.load("schedules/tiny_cnn.default.schedule.json")
    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` raises ImportError
    with pytest.raises(ImportError, match="needs pandas.*pip install pandas"):
        s.to_pandas()
    assert len(s.to_records()) == len(s)


def test_bad_arguments_raise_never_panic(tmp_path):
    with pytest.raises(TypeError):
        cimopt.compile(123, "default")
    with pytest.raises(TypeError, match="target"):
        cimopt.compile(TINY, 3.5)
    with pytest.raises(TypeError, match="set"):
        cimopt.target("default", set={"cores": object()})
    with pytest.raises(TypeError, match="set"):
        cimopt.target("default", set=42)
    deep = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(TypeError, match="nested"):
        cimopt.target("default", set={"spatial.cores.dims": deep})
    with pytest.raises(TypeError, match="cache"):
        cimopt.compile(TINY, "default", cache=3)
    with pytest.raises(cimopt.OptionsError, match="unknown mapper `fast`"):
        cimopt.compile(TINY, "default", mapper="fast")
    with pytest.raises(cimopt.OptionsError, match="unknown objective"):
        cimopt.compile(TINY, "default", objective="speed")
    with pytest.raises(cimopt.OptionsError, match="time-limit"):
        cimopt.compile(TINY, "default", time_limit=float("nan"))
    with pytest.raises(cimopt.OptionsError, match="at most"):
        cimopt.compile(TINY, "default", threads=10_000)
    with pytest.raises(ValueError):  # OptionsError is a ValueError too
        cimopt.compile(TINY, "default", gap=-1.0)
    with pytest.raises(OverflowError):
        cimopt.compile(TINY, "default", threads=-1)
    for shape in [(-1, 3), ("a",), (True,), "1xq"]:
        with pytest.raises(cimopt.OptionsError, match="is not a dimension"):
            cimopt.inspect(TINY, input_shapes={"input": shape})
    with pytest.raises(TypeError, match="input_shapes"):
        cimopt.inspect(TINY, input_shapes=[1, 2])
    with pytest.raises(cimopt.ModelError):
        cimopt.inspect(TINY, input_shapes={"input": (0, 3, 8, 8)})
    with pytest.raises(TypeError, match="schedule"):
        cimopt.report(42)
    with pytest.raises(cimopt.Error, match="cannot read"):
        cimopt.report(tmp_path / "missing.json")
    with pytest.raises(cimopt.TargetError, match="--set cores"):
        cimopt.target("default", set={"cores": -3})
    with pytest.raises(cimopt.TargetError):
        cimopt.target("default", set={"cores": 10**30})
    with pytest.raises(cimopt.TargetError):
        cimopt.target("default", set={"levels.dram.capacity": float("inf")})
    with pytest.raises(cimopt.ModelError, match="is a directory"):
        cimopt.inspect(tmp_path)


def test_the_readme_example_runs_as_written(tmp_path):
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("\n## Python\n") :]
    found = re.search(r"```python\n(.*?)```\n\nprints\n\n```text\n(.*?)```", section, flags=re.S)
    assert found, "the README's Python section has an example and what it prints"
    code, printed = found.groups()
    # In a folder of its own (the example writes a file), with the repository's models.
    (tmp_path / "models").symlink_to(ROOT / "models")
    env = dict(os.environ, CIMOPT_CACHE_DIR=str(tmp_path / "cache"))
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout == printed
