"""What SSM does with a Command document on a Linux instance: ``aws:runShellScript``, for real.

Before anything runs, the parameters are checked as SSM checks them (every one declared, one
string each, a default for those not given, ``allowedValues`` and ``allowedPattern``): a refused
value fails the invocation and nothing runs. Then each step's ``runCommand`` lines are written to
a script file and run by ``sh`` (as the agent does, whatever shell the lines call), with every
parameter as ``SSM_<name>`` in the environment (``interpolationType: ENV_VAR``; a ``{{ name }}``
in the lines is still replaced by the value as text, as the agent does), in a process group of
its own that is killed when ``timeoutSeconds`` passes. The output is whole here: what
GetCommandInvocation returns of it is cut where SSM cuts it (sandbox.ssm_invocations).

>>> run_document(content, {"service": ["web"]}, workdir, wrap=host.command)  # doctest: +SKIP
Result(status="Success", code=0, stdout="...", stderr="")
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

DEFAULT_TIMEOUT = 3600  # aws:runShellScript's own default
ROOT_ENV = {"HOME": "/root", "USER": "root", "LOGNAME": "root", "LANG": "C.UTF-8"}
INTERPOLATION = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")


class RefusedParameters(ValueError):
    """Parameters SSM refuses: the invocation fails and nothing runs."""


@dataclass(frozen=True)
class Result:
    status: str  # Success | Failed | TimedOut
    code: int
    stdout: str
    stderr: str
    details: str = ""
    step: str = ""  # the step it comes from (the last one run)

    @property
    def last_line(self) -> str:
        lines = (self.stdout + self.stderr).strip().splitlines()
        return lines[-1] if lines else ""


def checked(content: Mapping[str, Any], parameters: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Each declared parameter's value, as SSM resolves and checks it; RefusedParameters if not."""
    declared: Mapping[str, Any] = content.get("parameters") or {}
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise RefusedParameters(f"Parameter {unknown[0]!r} is not declared by the document")
    values = {}
    for name, spec in declared.items():
        given = parameters.get(name)
        if given is None:
            if "default" not in spec:
                raise RefusedParameters(f"Parameter {name!r} is required")
            given = [str(spec["default"])]
        if not isinstance(given, (list, tuple)) or len(given) != 1 or not isinstance(given[0], str):
            raise RefusedParameters(f"Parameter {name!r} takes exactly one string")
        value = given[0]
        allowed = spec.get("allowedValues")
        if allowed is not None and value not in allowed:
            raise RefusedParameters(f'Parameter "{name}" "{value}" is not one of {allowed}')
        pattern = spec.get("allowedPattern")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise RefusedParameters(f'Parameter "{name}" "{value}" failed to satisfy constraint: {pattern}')
        values[name] = value
    return values


def script_of(step: Mapping[str, Any], values: Mapping[str, str]) -> str:
    lines = step["inputs"]["runCommand"]
    text = "\n".join(lines if isinstance(lines, list) else [lines]) + "\n"
    return INTERPOLATION.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def run_document(
    content: Mapping[str, Any],
    parameters: Mapping[str, Sequence[str]],
    workdir: Path,
    wrap: Callable[[list[str]], list[str]] = lambda argv: argv,
    path: str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
) -> Result:
    """Run the document's shell steps in order (stopping at the first that fails). ``wrap``
    turns the agent's command into the one run on the instance (sandbox.hosts); ``path`` is the
    agent's PATH there."""
    try:
        values = checked(content, parameters)
    except RefusedParameters as err:
        return Result("Failed", 1, "", str(err), "InvalidParameters")
    env = {**ROOT_ENV, "PATH": path, **{f"SSM_{name}": value for name, value in values.items()}}
    result = Result("Success", 0, "", "")
    for index, step in enumerate(content.get("mainSteps") or []):
        if step.get("action") != "aws:runShellScript":
            continue
        timeout = int(step["inputs"].get("timeoutSeconds") or DEFAULT_TIMEOUT)
        script = workdir / str(step.get("name") or index) / "_script.sh"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(script_of(step, values))
        script.chmod(0o700)
        result = run_script(wrap(["sh", "-c", str(script)]), env, timeout, script.parent)
        result = Result(
            result.status, result.code, result.stdout, result.stderr, result.details, script.parent.name
        )
        if result.status != "Success":
            return result
    return result


def run_script(argv: list[str], env: Mapping[str, str], timeout: float, cwd: Path) -> Result:
    """Run ``argv`` in a process group of its own; kill the whole group at ``timeout``."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        # Files, not pipes: a daemon the script starts (PM2's) must not hold the output open.
        process = subprocess.Popen(
            argv,
            env=dict(env),
            cwd=cwd,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            code = process.wait(timeout)
            status, details = ("Success", "") if code == 0 else ("Failed", "")
        except subprocess.TimeoutExpired:
            _kill_group(process)
            status, details, code = "TimedOut", "ExecutionTimedOut", -1
        return Result(status, code, _read(out), _read(err), details or status)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _read(stream: Any) -> str:
    stream.seek(0)
    return str(stream.read().decode("utf-8", errors="replace"))
