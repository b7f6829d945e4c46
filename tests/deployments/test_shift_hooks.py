"""after_promote hooks are `run` steps: the shipped Valkey promotion document goes to the promoted
group's instances with its validated parameters, and a hook that fails tells people while the
promotion stands. Against moto in server mode."""

from __future__ import annotations

from chalicelib.aws.clients import client
from chalicelib.deployments.shifter import StartOptions
from sandbox.provision import create_shipped_document

HOOKS = """    hooks:
      after_promote:
        - run:
            document: autoheal-local-valkey-promote
            parameters: {master: cache, sentinel: "10.0.1.5:26379"}
"""


def test_after_promote_sends_the_valkey_document_with_its_parameters_to_the_promoted_group(make_world):
    world = make_world(more=HOOKS)
    create_shipped_document("ValkeyPromoteDocument")
    world.shifter.start(world.web, StartOptions(), by="person")

    view = world.shifter.promote(world.web, by="person")

    [command] = client("ssm").list_commands()["Commands"]
    assert command["DocumentName"] == "autoheal-local-valkey-promote"
    assert command["Parameters"] == {"master": ["cache"], "sentinel": ["10.0.1.5:26379"]}
    assert sorted(command["InstanceIds"]) == sorted(world.instances["web-green"])
    assert view["history"][-1]["event"] == "after_promote"
    assert world.weights() == {"web-green": 100}


def test_a_failing_after_promote_hook_tells_people_and_the_promotion_stands(make_world):
    world = make_world(more=HOOKS)  # the document was never created: SSM refuses the command
    world.shifter.start(world.web, StartOptions(), by="person")

    view = world.shifter.promote(world.web, by="person")

    assert view["state"] == "promoted" and world.weights() == {"web-green": 100}
    assert view["history"][-1]["event"] == "after_promote failed"
    assert [n.kind for n in world.notices if "autoheal-local-valkey-promote" in n.title] == ["escalated"]
