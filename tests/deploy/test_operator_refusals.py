"""The operator command: refusals exit 2 with one line, prod asks first, maintenance flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import NoRegionError

import autoheal_ops.__main__ as ops
from chalicelib.maintenance.mode import DEFAULT_MESSAGE


class Recorder:
    """Stands in for the deployed functions: records each call, answers what it is told."""

    calls: list[tuple[str, dict]] = []
    answer: Any = {"ok": True}

    def __init__(self, stage: str) -> None:
        pass

    def call(self, function: str, payload: dict) -> Any:
        Recorder.calls.append((function, payload))
        if isinstance(Recorder.answer, BaseException):
            raise Recorder.answer
        return Recorder.answer


@pytest.fixture(autouse=True)
def functions(monkeypatch) -> type[Recorder]:
    Recorder.calls, Recorder.answer = [], {"ok": True}
    monkeypatch.setattr(ops, "Functions", Recorder)
    return Recorder


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


@pytest.mark.parametrize(
    "argv",
    [
        ["shift", "start", "--deployment", "web"],
        ["shift", "start", "--deployment", "web", "--strategy", "bogus"],
        ["maintenance", "on", "--for", "30x"],
    ],
)
def test_an_answer_with_an_error_exits_2_with_one_line(argv, functions, capsys) -> None:
    functions.answer = {"error": "web: a shift is already in flight"}
    assert ops.main(argv) == 2
    assert one_line(capsys) == f"{argv[0]}: web: a shift is already in flight"


def test_failed_channels_of_notify_test_exit_2(monkeypatch, capsys) -> None:
    monkeypatch.setitem(ops.COMMANDS, "notify-test", lambda args, f: {"sent": ["email"], "failed": ["chat"]})
    assert ops.main(["notify-test"]) == 2
    assert one_line(capsys) == "notify-test: failed channels: chat"


def test_no_region_exits_2_with_one_line(functions, capsys) -> None:
    functions.answer = NoRegionError()
    assert ops.main(["maintenance", "off"]) == 2
    assert one_line(capsys) == "You must specify a region."


def test_a_bad_config_exits_2_without_a_traceback(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("settings: {state_table: t}\n")
    assert ops.main(["--config", str(bad), "status"]) == 2
    assert "alarm_topic" in one_line(capsys)


@pytest.mark.parametrize(
    "argv",
    [
        ["maintenance", "on"],
        ["maintenance", "off"],
        ["shift", "start", "--deployment", "web"],
        ["shift", "promote", "--deployment", "web"],
        ["shift", "abort", "--deployment", "web"],
        ["resolve", "restart-web/x", "--note", "fixed"],
    ],
)
def test_prod_asks_first_and_eof_changes_nothing(argv, functions, monkeypatch, capsys) -> None:
    def eof(prompt: str) -> str:
        raise EOFError

    monkeypatch.setattr("builtins.input", eof)
    assert ops.main(["--stage", "prod", *argv]) == 2
    assert one_line(capsys) == "not confirmed: nothing changed"
    assert functions.calls == []


def test_prod_goes_on_with_the_stage_name_or_yes(functions, monkeypatch) -> None:
    monkeypatch.setattr("builtins.input", lambda prompt: "prod")
    assert ops.main(["--stage", "prod", "maintenance", "off"]) == 0
    assert ops.main(["--stage", "prod", "--yes", "shift", "abort", "--deployment", "web"]) == 0
    assert [call[1]["action"] for call in functions.calls] == ["off", "status", "abort"]


def test_shift_status_in_prod_does_not_ask(functions, monkeypatch) -> None:
    monkeypatch.setattr("builtins.input", lambda prompt: pytest.fail("asked"))
    assert ops.main(["--stage", "prod", "shift", "status", "--deployment", "web"]) == 0


def test_maintenance_on_sends_until_components_and_the_functions_default_message(functions) -> None:
    argv = ["maintenance", "on", "--until", "2030-01-01T00:00:00Z", "--components", "web, api"]
    assert ops.main(argv) == 0
    assert functions.calls[1:] == [
        (
            "maintenance",
            {
                "action": "on",
                "message": DEFAULT_MESSAGE,
                "until": "2030-01-01T00:00:00Z",
                "components": ["web", "api"],
            },
        )
    ]


def test_maintenance_on_defaults_to_thirty_minutes(functions) -> None:
    assert ops.main(["maintenance", "on"]) == 0
    assert functions.calls[-1][1]["for"] == "30m"
