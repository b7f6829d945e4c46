"""Sessions share one loader of service models: a model is parsed once per process."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from chalicelib.aws.clients import new_session, service_models


def test_every_session_reads_models_through_the_one_loader():
    first, second = new_session(), new_session()
    assert first._session.get_component("data_loader") is service_models()
    assert second._session.get_component("data_loader") is service_models()
    assert first._session is not second._session  # a session of its own for each client


def test_the_loaders_search_paths_do_not_grow_with_sessions():
    new_session()
    before = list(service_models().search_paths)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: new_session(), range(64)))
    assert service_models().search_paths == before


def test_a_model_parsed_once_serves_a_later_session(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    new_session().client("sqs")
    parsed = service_models().load_service_model("sqs", "service-2")
    assert new_session().client("sqs").meta.service_model._service_description is parsed


def test_a_session_keeps_the_region_it_is_given():
    assert new_session(region_name="eu-west-1").client("sts").meta.region_name == "eu-west-1"
