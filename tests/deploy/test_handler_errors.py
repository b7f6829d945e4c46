"""A handler that raises is counted (HandlerErrors, by Function) and still raises for Lambda."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from autoheal_ops.resources import HANDLER_ERRORS
from autoheal_ops.stage import functions
from chalicelib import wiring
from chalicelib.metrics import FUNCTION_DIMENSION

APP = Path(__file__).resolve().parents[2] / "app.py"


def test_a_failing_handler_emits_one_error_metric_and_raises(capsys, monkeypatch):
    monkeypatch.setenv("AUTOHEAL_CONFIG", "/nonexistent.yaml")  # the config itself fails to load
    monkeypatch.setenv("AUTOHEAL_METRICS_NAMESPACE", "Autoheal/test")
    wiring.config.cache_clear()

    @wiring.counts_errors("follow_up")
    def broken(event):
        raise RuntimeError("table unreachable")

    with pytest.raises(RuntimeError, match="table unreachable"):
        broken({})
    wiring.config.cache_clear()
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    emf = [d for d in documents if HANDLER_ERRORS in d]
    assert len(emf) == 1 and emf[0][HANDLER_ERRORS] == [1.0] and emf[0][FUNCTION_DIMENSION] == "follow_up"
    assert emf[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Autoheal/test"


def test_a_handler_that_succeeds_emits_nothing(capsys):
    assert wiring.counts_errors("advance")(lambda event: {"moved": []})({}) == {"moved": []}
    assert HANDLER_ERRORS not in capsys.readouterr().out


def test_every_function_in_app_counts_its_errors_under_its_own_name():
    counted = {}
    for node in ast.walk(ast.parse(APP.read_text())):
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Call) and getattr(decorator.func, "attr", "") == "counts_errors":
                    counted[node.name] = decorator.args[0].value
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "register":  # routes
            wrap = next(
                a for a in node.args if getattr(getattr(a, "func", None), "attr", "") == "counts_errors"
            )
            counted["api_handler"] = wrap.args[0].value
    assert sorted(counted.values()) == functions() and all(k == v for k, v in counted.items())
