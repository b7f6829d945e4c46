"""Every parameter of every shipped SSM document: a value SSM accepts runs the script, a value
its allowedPattern (or allowedValues) refuses fails the invocation before anything runs.

The documents' own parameter blocks, from the template, with a script that only leaves a mark:
what is checked is SSM's gate, as sandbox.run_shell_script applies it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sandbox.provision import document_properties
from sandbox.run_shell_script import run_document

DOCUMENTS = ("RestartDocument", "ValkeyPromoteDocument", "DiagnoseDocument")
# (document, parameter) -> (a value SSM accepts, values it must refuse)
CASES: dict[tuple[str, str], tuple[str, list[str]]] = {
    ("RestartDocument", "service"): ("api@2.worker_x-1", ["web; reboot", "--help", "$(id)", "a" * 65, ""]),
    ("RestartDocument", "manager"): ("systemd", ["supervisord", "pm2 ", "PM2"]),
    ("RestartDocument", "user"): ("ec2-user", ["Root", "-oProxyCommand", "a" * 33, "app\n", "app;id"]),
    ("DiagnoseDocument", "service"): ("web", ["web; reboot", "-web", "a" * 65]),
    ("DiagnoseDocument", "manager"): ("docker", ["supervisord", "-pm2"]),
    ("DiagnoseDocument", "user"): ("", ["Root", "-oX", "app;id"]),
    ("DiagnoseDocument", "lines"): ("200", ["0", "10000", "-5", "200;id", ""]),
    ("ValkeyPromoteDocument", "master"): ("my.master_1", ["-master", "my master", "a" * 65, "m$(id)"]),
    ("ValkeyPromoteDocument", "sentinel"): (
        "sentinel-1.internal:26379",
        ["sentinel", ":26379", "h:p0rt", "-h:1"],
    ),
    ("ValkeyPromoteDocument", "port"): ("6380", ["", "123456", "6379;id", "-1"]),
}


def declared() -> list[tuple[str, str]]:
    return [
        (document, name)
        for document in DOCUMENTS
        for name in document_properties(document)["Content"]["parameters"]
    ]


def marking(document: str, mark: Path) -> dict[str, Any]:
    """The document's own parameters, with a script that leaves ``mark`` and the values."""
    content = dict(document_properties(document)["Content"])
    names = list(content["parameters"])
    line = 'printf "%s\\n" ' + " ".join(f'"$SSM_{name}"' for name in names) + f" > {mark}"
    step = {"action": "aws:runShellScript", "name": "mark", "inputs": {"runCommand": [line]}}
    return {**content, "mainSteps": [step]}


def test_every_declared_parameter_has_cases() -> None:
    assert sorted(declared()) == sorted(CASES)


@pytest.mark.parametrize(("document", "name"), sorted(CASES), ids=lambda v: v)
def test_a_value_ssm_accepts_reaches_the_script(tmp_path: Path, document: str, name: str) -> None:
    mark = tmp_path / "ran"
    value, _ = CASES[(document, name)]
    result = run_document(
        marking(document, mark), {name: [value], **required(document, name)}, tmp_path / "w"
    )
    assert result.status == "Success", result
    assert value in mark.read_text().splitlines()


@pytest.mark.parametrize(
    ("document", "name", "value"),
    [(d, n, v) for (d, n), (_, refused) in sorted(CASES.items()) for v in refused],
    ids=lambda v: repr(v)[:20],
)
def test_a_value_ssm_refuses_fails_before_anything_runs(
    tmp_path: Path, document: str, name: str, value: str
) -> None:
    mark = tmp_path / "ran"
    result = run_document(
        marking(document, mark), {name: [value], **required(document, name)}, tmp_path / "w"
    )
    assert (result.status, result.details) == ("Failed", "InvalidParameters")
    assert f'"{name}"' in result.stderr
    assert not mark.exists() and not (tmp_path / "w").exists()  # no script written, nothing ran


def required(document: str, skip: str) -> dict[str, list[str]]:
    """Accepted values for the document's parameters that have no default (but ``skip``)."""
    parameters = document_properties(document)["Content"]["parameters"]
    return {
        name: [CASES[(document, name)][0]]
        for name, spec in parameters.items()
        if name != skip and "default" not in spec
    }
