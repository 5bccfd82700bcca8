"""The authoring guide's example of an adapter that imitates a capability its
library lacks: minitape has no persistent recording, and this adapter answers
a persistent program by running the body again for each request.  The answers
are right, so the suite flags the denial of ``persistent_recording`` as stale
instead of counting a pass (tests/test_authoring_template.py)."""
from __future__ import annotations

from typing import Any, ClassVar

from docs.tape_adapter_template import MinitapeAdapter
from gradspec.outcomes import Answer
from gradspec.program import Program, RunContext


class RerunningMinitape(MinitapeAdapter):
    """A fresh recording per request whenever the case asks for a persistent one."""

    name: ClassVar[str] = "rerunning_minitape"

    def execute(self, program: Program, ctx: RunContext) -> list[Answer]:
        if not program.persistent:
            return super().execute(program, ctx)
        answers: list[Any] = []
        for request in program.requests:
            named, _ = self.record(program)
            answers.append(self.answer(program, named, request, ctx))
        return answers
