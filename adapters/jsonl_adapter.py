"""The language-neutral door: an implementation in any language, run as a
subprocess that speaks gradspec's JSON-lines protocol (docs/protocol.md).

The case body is traced once into an expression graph (gradspec.protocol),
defined on the server, and every request becomes one ``evaluate`` message.
One long-lived server per worker process; a crash, a broken pipe, a garbled
reply or a timeout kills it, that item answers ERROR (TIMEOUT for a
timeout), and the next item starts a fresh one.

Environment:
  GRADSPEC_JSONL_COMMAND  the server command line (shell words); default: the
                          reference server, ``python servers/minirev_server.py``
  GRADSPEC_JSONL_TIMEOUT  seconds to wait for each reply (default 30)
  GRADSPEC_JSONL_MAX_LINE the longest reply line in bytes (default 64 MiB); a longer one
                          is a broken server
  GRADSPEC_JSONL_EXPECT   the server's expectation file (default: the one
                          beside this module, which documents minirev)
"""
from __future__ import annotations

import atexit
import os
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Mapping

import msgspec
import numpy as np

from gradspec.adapter import Adapter, structured
from gradspec.case import DTYPES, RECORDING_CAPABILITIES
from gradspec.engine import CaseTimeout
from gradspec.outcomes import Answer, Unsupported
from gradspec.program import Program, RunContext
from gradspec.protocol import (PROTOCOL_VERSION, ProtocolError, decode_outcome, decode_raised, dumps,
                               encode_array, loads, trace)
from gradspec.requests import (Derivatives, Grad, Hessian, Hvp, Jacobian, Jvp, Probe, Request, Vjp,
                               source_names)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SERVER = REPO / "servers" / "minirev_server.py"
ENV_COMMAND, ENV_TIMEOUT, ENV_EXPECT = "GRADSPEC_JSONL_COMMAND", "GRADSPEC_JSONL_TIMEOUT", "GRADSPEC_JSONL_EXPECT"
ENV_MAX_LINE = "GRADSPEC_JSONL_MAX_LINE"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_LINE = 64 * 2 ** 20
TOO_LONG = b"<a reply line over the limit>"  # the reader's marker (compared by identity)


class ServerCrashed(RuntimeError):
    """The server exited, closed its pipes or broke the protocol mid-request."""


class ServerTimeout(CaseTimeout):
    """No reply within GRADSPEC_JSONL_TIMEOUT: the server was killed (a TIMEOUT item)."""


class ServerError(RuntimeError):
    """The server answered an error reply other than "unsupported"."""


def server_command() -> list[str]:
    text = os.environ.get(ENV_COMMAND, "").strip()
    return shlex.split(text) if text else [sys.executable, str(DEFAULT_SERVER)]


def message_timeout() -> float:
    return float(os.environ.get(ENV_TIMEOUT) or DEFAULT_TIMEOUT)


def max_line() -> int:
    """The longest reply line read, in bytes: a server answering more is broken, and one
    unbounded line would otherwise hold the whole of it in memory."""
    return int(os.environ.get(ENV_MAX_LINE) or DEFAULT_MAX_LINE)


class StartReply(msgspec.Struct):
    """The start reply (docs/protocol.md#start), checked field by field: a server whose
    handshake is malformed is a broken setup, caught before any item relies on it."""

    protocol: int
    name: Annotated[str, msgspec.Meta(min_length=1)]
    version: str
    capabilities: list[str]
    requests: list[str]
    dtypes: list[Literal["float16", "bfloat16", "float32", "float64", "complex64", "complex128", "int32",
                         "int64", "bool"]]
    ops: list[str]
    id: int = 0


class ServerProcess:
    """One running server: numbered requests, one reply line each, with a
    deadline.  Any failure to get a well-formed reply kills it for good."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self._stderr = tempfile.TemporaryFile()
        # A session of its own: whatever the server starts (a launcher's child, a fork holding
        # the pipe) is in its process group, and close() ends the whole group.
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                     start_new_session=True)
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._reader = threading.Thread(target=self._pump, name="jsonl-reader", daemon=True)
        self._reader.start()
        self._next_id = 0
        self._dead = False
        self.hello: dict[str, Any] = {}
        try:
            self.hello = self._handshake()
        except BaseException:
            self.close()
            raise

    @property
    def alive(self) -> bool:
        return not self._dead and self.proc.poll() is None

    def call(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """Send one request and return its reply; error replies raise."""
        reply = self._exchange(message)
        error = reply.get("error")
        if error is not None:
            text = f"{self.name}: {error.get('message', error) if isinstance(error, dict) else error}"
            if isinstance(error, dict) and error.get("code") == "unsupported":
                raise Unsupported(text)
            raise ServerError(text)
        return reply

    @property
    def name(self) -> str:
        """"name version" from the start reply (the command line before it)."""
        return f"{self.hello['name']} {self.hello['version']}" if self.hello else " ".join(self.command)

    def close(self) -> int | None:
        """Kill the server's whole process group and return the server's exit code."""
        self._dead = True
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the server leads its own group (start_new_session)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass
        # The reader sees end of output once no process holds the pipe; closing the pipe while
        # it still reads would wait on the reader's lock (a process outside the group: leave it).
        self._reader.join(timeout=5)
        if not self._reader.is_alive():
            self.proc.stdout.close()  # type: ignore[union-attr]
        return code

    def shutdown(self) -> None:
        """Polite stop: end of input tells the server to exit."""
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]
            self.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.close()

    def _handshake(self) -> dict[str, Any]:
        """A server that refuses this protocol version is a broken setup (ERROR), not a missing feature."""
        try:
            reply = self.call({"type": "start", "protocol": PROTOCOL_VERSION})
        except Unsupported as exc:
            raise ServerError(f"{' '.join(self.command)} refused protocol {PROTOCOL_VERSION}: {exc}") from None
        try:
            msgspec.convert(reply, StartReply, strict=True)
        except msgspec.ValidationError as exc:
            raise ServerError(f"{' '.join(self.command)}: malformed start reply: {exc}") from None
        if reply["protocol"] != PROTOCOL_VERSION:
            raise ServerError(f"{' '.join(self.command)}: bad start reply: protocol {reply['protocol']!r}, "
                              f"this client speaks {PROTOCOL_VERSION}")
        return reply

    def _pump(self) -> None:
        limit = max_line()
        try:
            for line in iter(lambda: self.proc.stdout.readline(limit + 1), b""):  # type: ignore[union-attr]
                if len(line) > limit:
                    self._lines.put(TOO_LONG)
                    return
                self._lines.put(line)
        except (OSError, ValueError):  # closed under us by close()
            pass
        self._lines.put(None)

    def _exchange(self, message: Mapping[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        ident = self._next_id
        timeout = message_timeout()
        try:
            self.proc.stdin.write((dumps({"id": ident, **message}) + "\n").encode())  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            self.close()
            raise ServerTimeout(f"server {' '.join(self.command)} sent no reply to '{message.get('type')}' "
                                f"within {timeout:g} s; killed, the next item starts a fresh one") from None
        except (OSError, ValueError) as exc:  # a broken pipe, or stdin already closed
            raise self._crashed(f"could not send '{message.get('type')}': {exc}") from None
        except BaseException:
            self.close()  # interrupted mid-request (the item's own time limit): the reply is lost
            raise
        if line is None:
            raise self._crashed(f"closed its output during '{message.get('type')}'")
        if line is TOO_LONG:
            raise self._crashed(f"sent a reply line longer than {max_line()} bytes to '{message.get('type')}' "
                                f"(GRADSPEC_JSONL_MAX_LINE raises the limit)")
        try:
            reply = loads(line)
        except ProtocolError as exc:
            raise self._crashed(str(exc)) from None
        if reply.get("id") != ident:
            raise self._crashed(f"answered id {reply.get('id')!r} to request {ident}")
        return reply

    def _crashed(self, what: str) -> ServerCrashed:
        code = self.close()
        self._stderr.seek(0, os.SEEK_END)
        self._stderr.seek(max(0, self._stderr.tell() - 2000))
        tail = self._stderr.read().decode("utf-8", "replace").strip()
        return ServerCrashed(f"server {' '.join(self.command)} {what} (exit code {code}); "
                             f"restarted on the next item" + (f"; stderr: {tail}" if tail else ""))


_SERVERS: dict[tuple[int, tuple[str, ...]], ServerProcess] = {}


def running_server(command: list[str]) -> ServerProcess:
    """This worker process's server for ``command``, started or restarted as needed."""
    key = (os.getpid(), tuple(command))
    server = _SERVERS.get(key)
    if server is None or not server.alive:
        _SERVERS.pop(key, None)
        server = ServerProcess(command)
        _SERVERS[key] = server
    return server


@atexit.register
def _stop_servers() -> None:
    for (pid, _), server in list(_SERVERS.items()):
        if pid == os.getpid():
            server.shutdown()


class JsonlAdapter(Adapter):
    """Any implementation behind the JSON-lines protocol.  The capabilities
    below are those the protocol can carry; a request needing one the server
    does not declare in its start reply is UNSUPPORTED."""

    name: ClassVar[str] = "jsonl"
    capabilities: ClassVar[frozenset[str]] = frozenset({
        "output_gradients", "unconnected_zero", "higher_order", "jacobian", "hessian", "forward_mode",
        "no_gradient_ops", "float16",
    })
    not_applicable: ClassVar[frozenset[str]] = RECORDING_CAPABILITIES  # protocol v1 has no recording
    environment: ClassVar[tuple[str, ...]] = (ENV_COMMAND, ENV_TIMEOUT, ENV_MAX_LINE, ENV_EXPECT)
    dtypes: ClassVar[tuple[str, ...]] = DTYPES  # the wire carries every dtype; the server's start reply narrows it

    @classmethod
    def unavailable(cls) -> str | None:
        try:
            command = server_command()
        except ValueError as exc:
            return f"{ENV_COMMAND} is not a valid command line: {exc}"
        if not command:
            return f"{ENV_COMMAND} is empty"
        if shutil.which(command[0]) is None and not Path(command[0]).is_file():
            return f"server command not found: {command[0]}"
        if command == [sys.executable, str(DEFAULT_SERVER)] and not DEFAULT_SERVER.is_file():
            return f"the reference server {DEFAULT_SERVER} is missing"
        return None

    @classmethod
    def expectations_path(cls) -> Path:
        """The server's expectation file: documented choices belong to the
        server.  The file beside this module documents minirev; a custom server
        without GRADSPEC_JSONL_EXPECT declares nothing (an empty file)."""
        override = os.environ.get(ENV_EXPECT)
        if override:
            return Path(override)
        if os.environ.get(ENV_COMMAND, "").strip():
            return Path(os.devnull)
        return super().expectations_path()

    def version(self) -> str:
        return self.server().name

    def server(self) -> ServerProcess:
        return running_server(server_command())

    def execute(self, program: Program, ctx: RunContext) -> list[Answer]:
        server = self.server()
        hello = server.hello
        if ctx.dtype not in hello["dtypes"] or (ctx.dtype in self.capabilities
                                                and ctx.dtype not in hello["capabilities"]):
            raise Unsupported(f"server {server.name} does not run {ctx.dtype} (runs {hello['dtypes']})")
        if program.body is None:
            return [self.probe(r, ctx) for r in program.requests]  # type: ignore[arg-type]
        arrays = dict(program.arrays)
        roles = {name: inp.role for name, inp in program.inputs.items()}
        for name, inp in program.inputs.items():
            if inp.prelude is not None:
                arrays[name] = self._prelude(server, name, inp.prelude, arrays[name])
        tracer, graph = trace(program.body, arrays, roles)
        self._check_ops(server, tracer.used_ops())
        dtypes = {i["name"]: i["dtype"] for i in graph["inputs"]} | {n["id"]: n["dtype"] for n in graph["nodes"]}
        dtype_of = {name: dtypes[ref] for name, ref in graph["outputs"].items()} | \
            {i["name"]: i["dtype"] for i in graph["inputs"]}
        wire = [None if isinstance(r, Probe) else self._wire(r, hello, dtype_of, ctx.dtype)
                for r in program.requests]
        server.call({"type": "define", "graph": "program", **graph})
        inputs = {name: encode_array(arr) for name, arr in arrays.items()}
        answers: list[Answer] = []
        for request, message in zip(program.requests, wire):
            if message is None:
                answers.append(self.probe(request, ctx))  # type: ignore[arg-type]
                continue
            reply = server.call({"type": "evaluate", "graph": "program", "inputs": inputs, "request": message})
            answers.append(self._answer(request, reply))
        return answers

    def _prelude(self, server: ServerProcess, name: str, prelude: Any, base: np.ndarray) -> np.ndarray:
        """An 'outside' input is computed by the server before the main graph,
        as its own graph; the main graph then takes the result as a plain input."""
        if "value" not in server.hello["requests"]:
            raise Unsupported(f"server {server.name} has no 'value' request to compute input '{name}'")
        tracer, graph = trace(lambda ops, **kw: prelude(ops, kw[name]), {name: base}, {name: "variable"})
        self._check_ops(server, tracer.used_ops())
        server.call({"type": "define", "graph": "prelude", **graph})
        reply = server.call({"type": "evaluate", "graph": "prelude", "inputs": {name: encode_array(base)},
                             "request": {"kind": "value", "target": "y"}})
        if "raised" in reply:
            raise ServerError(f"the prelude of input '{name}' raised on {server.name}: {reply['raised']}")
        return decode_outcome(reply["outcomes"][0]).array  # type: ignore[union-attr]

    @staticmethod
    def _check_ops(server: ServerProcess, used: set[str]) -> None:
        missing = sorted(used - set(server.hello["ops"]))
        if missing:
            raise Unsupported(f"server {server.name} does not provide op(s) {missing}")

    def _wire(self, r: Request, hello: Mapping[str, Any], dtype_of: Mapping[str, str],
              item_dtype: str) -> dict[str, Any]:
        """A gradspec request as a protocol request; what the protocol or the
        server cannot express is Unsupported."""
        def cast(value: Any, name: str) -> dict[str, Any]:
            return encode_array(np.asarray(value, dtype=dtype_of.get(name, item_dtype)))

        needs: list[str] = []
        if isinstance(r, Grad):
            msg: dict[str, Any] = {"kind": "grad", "sources": source_names(r.wrt), "target": r.target,
                                   "unconnected": r.unconnected}
            if r.output_grad is not None:
                msg.update(kind="vjp", cotangent=cast(r.output_grad, r.target))
                needs.append("output_gradients")
            if r.unconnected != "default":
                needs.append(f"unconnected_{r.unconnected}")
        elif isinstance(r, Vjp):
            msg = {"kind": "vjp", "sources": [r.wrt], "target": r.target, "cotangent": cast(r.cotangent, r.target)}
        elif isinstance(r, Derivatives):
            msg = {"kind": "derivatives", "source": r.wrt, "target": r.target, "order": r.order}
            needs += ["higher_order"] if r.order > 1 else []
        elif isinstance(r, Jacobian):
            msg = {"kind": "jacobian", "source": r.wrt, "target": r.target, "mode": r.mode}
            needs += ["jacobian"] + (["forward_mode"] if r.mode == "forward" else [])
        elif isinstance(r, Hessian):
            msg = {"kind": "hessian", "source": r.wrt, "target": r.target}
            needs.append("hessian")
        elif isinstance(r, (Jvp, Hvp)):
            msg = {"kind": "jvp" if isinstance(r, Jvp) else "hvp", "source": r.wrt, "target": r.target,
                   "tangent": cast(r.tangent, r.wrt)}
            needs.append("forward_mode")
        else:
            raise Unsupported(f"the JSON-lines protocol has no request for {type(r).__name__}")
        if msg["kind"] not in hello["requests"]:
            raise Unsupported(f"server {hello['name']} does not answer '{msg['kind']}' requests")
        lacking = sorted(set(needs) - set(hello["capabilities"]))
        if lacking:
            raise Unsupported(f"server {hello['name']} lacks capabilities {lacking}")
        return msg

    @staticmethod
    def _answer(r: Request, reply: Mapping[str, Any]) -> Answer:
        """Outcomes back into the request's shape; a request that raised as a
        whole answers one Raised."""
        if "raised" in reply:
            return decode_raised(reply["raised"])
        outcomes = [decode_outcome(o) for o in reply.get("outcomes", [])]
        expected = len(source_names(r.wrt)) if isinstance(r, Grad) else \
            r.order if isinstance(r, Derivatives) else 1
        if len(outcomes) != expected:
            raise ServerError(f"expected {expected} outcome(s) for {type(r).__name__}, got {len(outcomes)}")
        if isinstance(r, Grad):
            it = iter(outcomes)
            return structured(r.wrt, lambda _: next(it))
        return outcomes if isinstance(r, Derivatives) else outcomes[0]
