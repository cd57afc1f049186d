"""Schemathesis hooks for .ci/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

The run authenticates with one admin API key, and `GET /v1/keys` lists that key too:
left alone, schemathesis feeds its id to `DELETE /v1/keys/{id}` (its resource pool and
stateful links do exactly that) and every later request is a 401. So a call that would
revoke the run's own key is sent for a well-formed id that does not exist instead
(documented answer: 404); every other key it made or found is still revoked for real.
"""

import os

import schemathesis

OWN_KEY_ID = os.environ["HOOKD_FUZZ_KEY_ID"]
ABSENT_KEY_ID = "key_" + "0" * 26


@schemathesis.hook
def before_call(context, case, kwargs):
    params = case.path_parameters
    if case.method.upper() == "DELETE" and params and params.get("id") == OWN_KEY_ID:
        params["id"] = ABSENT_KEY_ID
