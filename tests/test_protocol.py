"""The JSON-lines door: array codec, graph tracing, the minirev reference
server against the float64 oracle, the jsonl adapter end to end, and its
restart after a server crash or timeout."""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from adapters.jsonl_adapter import (ENV_COMMAND, ENV_TIMEOUT, JsonlAdapter, ServerCrashed, ServerTimeout,
                                    _SERVERS)
from gradspec import numpy_ops, oracle
from gradspec.case import case
from gradspec.engine import CaseTimeout, run_item
from gradspec.expect import oracle as oracle_expect
from gradspec.expect import value
from gradspec.inputs import outside, var
from gradspec.outcomes import Absent, ErrorKind, Raised, Unsupported, Value
from gradspec.program import OpsView, Program, RunContext, outputs
from gradspec.protocol import (OPS, ProtocolError, decode_array, decode_outcome, dumps, encode_array,
                               encode_outcome, loads, trace)
from gradspec.requests import BatchedGrad, Derivatives, Grad, Hessian, Hvp, Jacobian, Jvp, Vjp

REPO = Path(__file__).resolve().parents[1]
SERVER = REPO / "servers" / "minirev_server.py"
_spec = importlib.util.spec_from_file_location("minirev_server", SERVER)
minirev = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(minirev)  # type: ignore[union-attr]


def wire(array: np.ndarray) -> np.ndarray:
    """Encode, write as a JSON line, read back, decode: the full trip."""
    text = dumps({"a": encode_array(array)})
    assert "NaN" not in text and "Infinity" not in text and "\n" not in text
    return decode_array(loads(text)["a"])


def bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(f"u{a.dtype.itemsize}")


# -- arrays on the wire ------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_special_values_survive_exactly(dtype: str) -> None:
    info = np.finfo(dtype)
    arr = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.5, info.smallest_subnormal, info.max, -info.tiny],
                   dtype=dtype).reshape(3, 3)
    back = wire(arr)
    assert back.dtype == arr.dtype and back.shape == arr.shape
    nan = np.isnan(arr)
    assert np.array_equal(np.isnan(back), nan)
    assert np.array_equal(bits(back)[~nan], bits(arr)[~nan])  # -0.0 keeps its sign bit
    assert '"-0.0"' in dumps(encode_array(arr)) and np.signbit(back.reshape(-1)[3])


def test_float32_values_round_trip_bit_for_bit() -> None:
    raw = np.random.default_rng(0).integers(0, 2**32, size=20000, dtype=np.uint64).astype(np.uint32)
    values = raw.view(np.float32)
    values = np.concatenate([values[np.isfinite(values)], np.float32([0.1, 1 / 3, 16777217.0]),
                             np.nextafter(np.float32([1.0, -2.0]), np.float32(0.0))])
    back = wire(values)
    assert back.dtype == np.float32
    assert np.array_equal(bits(back), bits(values))
    assert "0.10000000149011612" in dumps(encode_array(np.float32([0.1])))


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex_parts_survive(dtype: str) -> None:
    arr = np.array([complex(1.5, -0.0), complex(np.nan, np.inf), complex(-np.inf, 0.1), complex(-0.0, 2.0)],
                   dtype=dtype)
    back = wire(arr)
    assert back.dtype == arr.dtype
    for part in (np.real, np.imag):
        a, b = part(arr), part(back)
        nan = np.isnan(a)
        assert np.array_equal(np.isnan(b), nan) and np.array_equal(bits(b)[~nan], bits(a)[~nan])


def test_integers_bools_and_shapes() -> None:
    for arr in (np.array([2**62 + 1, -2**63], dtype=np.int64), np.array([[True], [False]]),
                np.array(7, dtype=np.int32), np.zeros((0, 3), dtype=np.float32)):
        back = wire(arr)
        assert back.dtype == arr.dtype and back.shape == arr.shape and np.array_equal(back, arr)


def test_outcomes_round_trip() -> None:
    value_back = decode_outcome(loads(dumps(encode_outcome(Value(np.float32([1.0, -0.0]))))))
    assert isinstance(value_back, Value) and value_back.array.dtype == np.float32
    assert decode_outcome(loads(dumps(encode_outcome(Absent())))) == Absent()
    raised = Raised(ErrorKind.NonScalarTarget, "m.E", "no")
    assert decode_outcome(loads(dumps(encode_outcome(raised)))) == raised
    assert decode_outcome({"raised": {"kind": "Exploded", "type": "t", "message": "m"}}).kind is \
        ErrorKind.Unclassified
    with pytest.raises(ProtocolError):
        decode_outcome({"gradient": 1})
    with pytest.raises(ProtocolError):
        loads("[1, 2]")


# -- tracing ---------------------------------------------------------------------

def test_trace_records_ops_constants_indices_and_marks() -> None:
    def body(ops: Any, x: Any, w: Any) -> Any:
        h = ops.mark("h", ops.tanh(x @ w))
        return ops.sum(h[0, 1:, None] * 2.0) + ops.mean(ops.stack([x, w], axis=1), axis=(0, 1))

    _, graph = trace(body, {"x": np.ones((2, 2), np.float32), "w": np.eye(2, dtype=np.float32)}, {"w": "frozen"})
    nodes = graph["nodes"]
    assert [n["op"] for n in nodes] == ["matmul", "tanh", "getitem", "mul", "sum", "stack", "mean", "add"]
    assert graph["inputs"][1] == {"name": "w", "dtype": "float32", "shape": [2, 2], "role": "frozen"}
    assert nodes[2]["attrs"] == {"index": [0, {"slice": [1, None, None]}, {"newaxis": True}]}
    assert nodes[3]["args"] == [{"ref": "%2"}, {"scalar": 2.0}] and nodes[3]["dtype"] == "float32"
    assert nodes[4]["attrs"] == {"axis": None}  # defaults are filled in
    assert nodes[5]["args"] == [{"list": [{"ref": "x"}, {"ref": "w"}]}]
    assert nodes[6]["attrs"] == {"axis": [0, 1]}
    assert graph["outputs"] == {"h": "%1", "y": "%7"}


@pytest.mark.parametrize("body, reason", [
    (lambda ops, x: x if ops.sum(x) > 0 else -x, "data-dependent Python control flow"),
    (lambda ops, x: ops.split(x, 2)[0], "op 'split' is not provided"),
    (lambda ops, x: ops.cond(x[0], lambda v: v, lambda v: -v, x), "op 'cond' is not provided"),
    (lambda ops, x: x[[0, 1]], "only ints, slices, None and ..."),
])
def test_trace_refuses_what_a_fixed_graph_cannot_carry(body: Callable[..., Any], reason: str) -> None:
    with pytest.raises(Unsupported, match=re.escape(reason)):
        trace(body, {"x": np.ones(4)}, {})


# -- minirev against the float64 oracle ------------------------------------------

def ask(body: Callable[..., Any], arrays: dict[str, np.ndarray], request: dict[str, Any]) -> dict[str, Any]:
    """One define + evaluate on an in-process minirev, every message through JSON text."""
    _, graph = trace(body, arrays, {})
    server = minirev.Server()
    assert server.handle(loads(dumps({"id": 1, "type": "define", "graph": "g", **graph}))) == {"id": 1}
    message = {"id": 2, "type": "evaluate", "graph": "g", "inputs": {k: encode_array(v) for k, v in arrays.items()},
               "request": request}
    return loads(dumps(server.handle(loads(dumps(message)))))


def answer(body: Callable[..., Any], arrays: dict[str, np.ndarray], request: dict[str, Any]) -> np.ndarray:
    reply = ask(body, arrays, request)
    assert "outcomes" in reply, reply
    return decode_outcome(reply["outcomes"][0]).array  # type: ignore[union-attr]


def reference(body: Callable[..., Any], arrays: dict[str, np.ndarray], source: str) -> Callable[[Any], Any]:
    """The target as a NumPy function of one input, for the oracle."""
    def f(v: Any) -> Any:
        view = OpsView("numpy", numpy_ops.VOCABULARY)
        return outputs(body(view, **{**arrays, source: v}), view.marks)["y"]
    return f


RNG = np.random.default_rng(7)
X, W = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 3))
FUNCTIONS = {
    "mlp": lambda ops, x, w: ops.sum(ops.tanh(x @ w) * ops.sigmoid(x @ ops.transpose(w))),
    "softmax": lambda ops, x, w: ops.sum(ops.log_softmax(x @ w, axis=0) * ops.softmax(x * 2.0, axis=1)),
    "gather_where": lambda ops, x, w: ops.sum(ops.gather(w, [2, 2, 0]) ** 2)
    + ops.sum(ops.where(x > 0.1, ops.exp(x), x * 3.0)) + ops.sum(ops.maximum(x, 0.3) * ops.minimum(w[0], -0.2)),
    "shape": lambda ops, x, w: ops.sum(ops.reshape(x, (3, 2)) @ x) + ops.mean(w[1:, ::2])
    + ops.sum(ops.concat([x, w], axis=0)[1:4] ** 3) + ops.max(w) * ops.norm(x),
    "pow_div": lambda ops, x, w: ops.sum(x ** 3 / (1 + w[:2] ** 2)) + ops.sum(2.0 ** x) + ops.logsumexp(w),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("source", ["x", "w"])
def test_minirev_matches_the_oracle(name: str, source: str) -> None:
    body, arrays = FUNCTIONS[name], {"x": X, "w": W}
    expected = oracle.jacobian(reference(body, arrays, source), arrays[source])
    grad = answer(body, arrays, {"kind": "grad", "sources": [source]})
    np.testing.assert_allclose(grad, expected, rtol=1e-7, atol=1e-9)
    for mode in ("reverse", "forward"):
        jac = answer(body, arrays, {"kind": "jacobian", "source": source, "mode": mode})
        np.testing.assert_allclose(jac, expected, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", ["mlp", "softmax"])
def test_minirev_second_order_matches_the_oracle(name: str) -> None:
    body, arrays = FUNCTIONS[name], {"x": X, "w": W}
    f = reference(body, arrays, "x")
    hessian = oracle.jacobian(lambda v: oracle.jacobian(f, v), X)
    np.testing.assert_allclose(answer(body, arrays, {"kind": "hessian", "source": "x"}), hessian, atol=1e-6)
    tangent = RNG.normal(size=X.shape)
    hvp = answer(body, arrays, {"kind": "hvp", "source": "x", "tangent": encode_array(tangent)})
    np.testing.assert_allclose(hvp, np.tensordot(hessian, tangent, axes=2), atol=1e-6)
    reply = ask(body, arrays, {"kind": "derivatives", "source": "x", "order": 2})
    second = decode_outcome(reply["outcomes"][1]).array  # type: ignore[union-attr]
    np.testing.assert_allclose(second, oracle.jacobian(lambda v: np.sum(oracle.jacobian(f, v)), X), atol=1e-6)


def test_minirev_keeps_float32() -> None:
    body = FUNCTIONS["mlp"]
    arrays = {"x": X.astype(np.float32), "w": W.astype(np.float32)}
    grad = answer(body, arrays, {"kind": "grad", "sources": ["w"]})
    assert grad.dtype == np.float32
    expected = oracle.jacobian(reference(body, {k: v.astype(np.float64) for k, v in arrays.items()}, "w"),
                               arrays["w"].astype(np.float64))
    np.testing.assert_allclose(grad, expected, rtol=2e-5, atol=2e-6)


def test_minirev_documented_conventions() -> None:
    """The choices docs/protocol.md states for minirev (ties split, kinks 0, ...)."""
    x = {"x": np.array([0.0, 1.0, -2.0]), "z": np.array(1.0)}
    assert np.array_equal(answer(lambda ops, x, z: ops.sum(ops.maximum(x, 1.0)), x, {"kind": "grad", "sources": ["x"]}),
                          [0.0, 0.5, 0.0])
    assert np.array_equal(answer(lambda ops, x, z: ops.sum(ops.relu(x) + ops.abs(x)), x,
                                 {"kind": "grad", "sources": ["x"]}), [0.0, 2.0, -1.0])
    unconnected = ask(lambda ops, x, z: ops.sum(x), x, {"kind": "grad", "sources": ["x", "z"]})
    assert unconnected["outcomes"][1] == {"absent": True}
    zero = answer(lambda ops, x, z: ops.sum(x), x, {"kind": "grad", "sources": ["z"], "unconnected": "zero"})
    assert zero.shape == () and zero == 0.0
    assert ask(lambda ops, x, z: x * z, x, {"kind": "grad", "sources": ["x"]})["raised"]["kind"] == "NonScalarTarget"
    assert ask(lambda ops, x, z: ops.sum(ops.no_gradient_op(x)), x,
               {"kind": "grad", "sources": ["x"]})["raised"]["kind"] == "NoGradientDefined"
    ints = {"n": np.array([3], dtype=np.int32)}
    assert ask(lambda ops, n: ops.sum(n * n), ints,
               {"kind": "grad", "sources": ["n"]})["raised"]["kind"] == "NotDifferentiableDType"
    bad = ask(lambda ops, x, z: x * z, x, {"kind": "vjp", "sources": ["x"], "cotangent": encode_array(np.ones(2))})
    assert bad["raised"]["kind"] == "ShapeMismatch"


# -- the adapter end to end ---------------------------------------------------------

@pytest.fixture
def servers() -> Any:
    """Stop the servers a test started (the shared default one stays)."""
    before = set(_SERVERS)
    yield
    for key in set(_SERVERS) - before:
        _SERVERS.pop(key).shutdown()


MIXED = case(
    id="protocol.mixed", statement="Every protocol request on one graph agrees with the oracle",
    doc="https://example.org/protocol#mixed", tags=["protocol"],
    inputs={"x": var([0.3, -1.2, 2.0]), "w": var([[0.5, 1.0, -1.0], [2.0, 0.1, 0.3]]),
            "d": outside(2.0, lambda ops, v: v * 3.0)},
    body=lambda ops, x, w, d: {"y": ops.sum(ops.tanh(w @ x)) * d * ops.sum(x * x), "z": ops.mark("h", w @ x) * 2.0},
    requests=[Grad(("x", "w")), Grad({"p": "d"}), Jacobian("x", target="z"), Jacobian("w", target="z", mode="forward"),
              Derivatives("x", 2), Hessian("x"), Jvp("x", [1.0, 0.0, -1.0]), Hvp("x", [0.0, 1.0, 0.0]),
              Vjp("h", [1.0, 2.0], target="z"), Grad("h", target="z", output_grad=[1.0, -1.0])],
    expect=[[oracle_expect(), oracle_expect()], {"p": oracle_expect()}, oracle_expect(), oracle_expect(),
            [oracle_expect(), oracle_expect()], oracle_expect(), oracle_expect(), oracle_expect(), oracle_expect(),
            oracle_expect()],
)
SQUARE = case(id="protocol.square", statement="d/dx x^2 at 3 is 6", doc="https://example.org/protocol#square",
              tags=["protocol"], inputs={"x": var(3.0)}, body=lambda ops, x: x * x, requests=Grad("x"),
              expect=value(6.0))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_adapter_passes_against_minirev(dtype: str) -> None:
    adapter = JsonlAdapter()
    result = run_item(MIXED, adapter, "cpu", dtype, adapter.version(), None)
    assert (result.status, result.message) == ("PASS", "")
    answers = adapter.execute(Program.for_case(MIXED, dtype), RunContext(dtype))
    assert isinstance(answers[0], list) and list(answers[1]) == ["p"]
    assert answers[0][1].array.dtype == np.dtype(dtype) and answers[0][1].array.shape == (2, 3)
    assert adapter.version() == "minirev 0.1"


def test_adapter_reports_what_it_cannot_carry() -> None:
    adapter = JsonlAdapter()
    branchy = case(id="protocol.branch", statement="a Python if on a traced value",
                   doc="https://example.org/protocol#branch", tags=["protocol"], inputs={"x": var(-2.0)},
                   body=lambda ops, x: x if x > 0 else -x, requests=Grad("x"), expect=value(-1.0))
    result = run_item(branchy, adapter, "cpu", "float64", "minirev 0.1", None)
    assert result.status == "UNSUPPORTED" and "data-dependent Python control flow" in result.message
    batched = Program.for_case(SQUARE, "float64")
    with pytest.raises(Unsupported, match="BatchedGrad"):
        adapter.execute(dataclasses.replace(batched, requests=(BatchedGrad("x"),)), RunContext("float64"))
    with pytest.raises(Unsupported, match="does not run complex64"):
        adapter.execute(Program.for_case(SQUARE, "complex64"), RunContext("complex64"))


FAKE_SERVER = '''
import importlib.util, json, os, sys, time
spec = importlib.util.spec_from_file_location("minirev", {server!r})
minirev = importlib.util.module_from_spec(spec)
spec.loader.exec_module(minirev)
marker, mode = sys.argv[1], sys.argv[2]
with open(marker + ".pids", "a") as log:
    log.write(f"{{os.getpid()}}\\n")
server = minirev.Server()
for line in sys.stdin:
    message = json.loads(line)
    if message["type"] == "evaluate" and not os.path.exists(marker):
        open(marker, "w").close()
        if mode == "crash":
            sys.stderr.write("fake server: crashing on purpose\\n")
            sys.stderr.flush()
            os._exit(3)
        if mode == "garble":
            sys.stdout.write("this is not JSON\\n")
            sys.stdout.flush()
            continue
        time.sleep(60)
    sys.stdout.write(minirev.dumps(server.handle(message)) + "\\n")
    sys.stdout.flush()
'''


def fake_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> Path:
    """minirev behind a wrapper that misbehaves on its first evaluate, once."""
    script = tmp_path / "fake_server.py"
    script.write_text(FAKE_SERVER.format(server=str(SERVER)))
    marker = tmp_path / "fired"
    monkeypatch.setenv(ENV_COMMAND, shlex.join([sys.executable, str(script), str(marker), mode]))
    return Path(str(marker) + ".pids")


def pids_alive(log: Path) -> list[bool]:
    alive = []
    for pid in map(int, log.read_text().split()):
        try:
            os.kill(pid, 0)
            alive.append(True)
        except ProcessLookupError:
            alive.append(False)
    return alive


@pytest.mark.parametrize("mode, message", [("crash", r"exit code 3.*crashing on purpose"),
                                           ("garble", r"not a JSON line")])
def test_restart_after_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, servers: None,
                               mode: str, message: str) -> None:
    pids = fake_server(tmp_path, monkeypatch, mode)
    adapter, program = JsonlAdapter(), Program.for_case(SQUARE, "float64")
    with pytest.raises(ServerCrashed, match=message):
        adapter.execute(program, RunContext("float64"))
    assert pids_alive(pids) == [False]
    result = run_item(SQUARE, adapter, "cpu", "float64", "minirev 0.1", None)
    assert result.status == "PASS"
    assert pids_alive(pids) == [False, True]  # a fresh process answered


def test_restart_after_a_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, servers: None) -> None:
    pids = fake_server(tmp_path, monkeypatch, "sleep")
    monkeypatch.setenv(ENV_TIMEOUT, "5")
    adapter = JsonlAdapter()
    start = time.perf_counter()
    result = run_item(SQUARE, adapter, "cpu", "float64", "minirev 0.1", None)
    assert result.status == "TIMEOUT" and "within 5 s" in result.message
    assert time.perf_counter() - start < 30
    assert issubclass(ServerTimeout, CaseTimeout) and pids_alive(pids) == [False]
    assert run_item(SQUARE, adapter, "cpu", "float64", "minirev 0.1", None).status == "PASS"
    assert pids_alive(pids) == [False, True]


def test_unavailable_names_a_missing_command(monkeypatch: pytest.MonkeyPatch) -> None:
    assert JsonlAdapter.unavailable() is None
    monkeypatch.setenv(ENV_COMMAND, "/nonexistent/gradspec-server --flag")
    assert "/nonexistent/gradspec-server" in (JsonlAdapter.unavailable() or "")
    assert JsonlAdapter.expectations_path() == Path(os.devnull)  # a custom server declares its own choices


# -- the document ----------------------------------------------------------------

DOC = (REPO / "docs" / "protocol.md").read_text(encoding="utf-8")


def test_every_op_is_documented() -> None:
    rows = set(re.findall(r"^\| `([a-z_0-9]+)` \|", DOC, re.M))
    operators = {"add", "sub", "mul", "div", "pow", "matmul", "neg", "lt", "le", "gt", "ge", "eq", "ne", "getitem"}
    missing = sorted(set(OPS) - rows - operators)
    assert not missing, f"docs/protocol.md does not list op(s) {missing}"
    assert all(f"`{op}`" in DOC for op in operators)


def test_the_documented_session_replays_exactly() -> None:
    """The walk-through's requests, piped into a real minirev process, give the
    documented replies line for line, and end of input stops the server."""
    block = re.search(r"```transcript\n(.*?)```", DOC, re.S)
    assert block is not None
    lines = block.group(1).splitlines()
    requests = [line[2:] for line in lines if line.startswith("> ")]
    replies = [json.loads(line[2:]) for line in lines if line.startswith("< ")]
    assert len(requests) == len(replies) >= 10
    done = subprocess.run([sys.executable, str(SERVER)], input="\n".join(requests) + "\n", capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()] == replies
