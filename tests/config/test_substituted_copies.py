"""A value filled in from the environment survives copy.deepcopy and pickle, as boto3 copies it.

boto3's DynamoDB resource deep-copies every request's parameters; a table named
`${AUTOHEAL_STATE_TABLE}` (every stage's config) made each Table call raise TypeError.
"""

from __future__ import annotations

import copy
import pickle

from chalicelib.config.source import Substituted


def test_a_substituted_value_deep_copies_with_its_template() -> None:
    value = Substituted("autoheal-dev-state", "${AUTOHEAL_STATE_TABLE}")
    for copied in (copy.deepcopy({"TableName": value})["TableName"], pickle.loads(pickle.dumps(value))):
        assert copied == "autoheal-dev-state"
        assert copied.template == "${AUTOHEAL_STATE_TABLE}"
