"""One Django worker process of the test site, driven by JSON lines on stdin (one answer line
each on stdout): what tests/python/django_tests/test_django_user_cache.py runs twice, so that
a user changed in one process is checked by the next request of another.

    {"op": "get", "secret": "tk_..."}          -> {"status": 200, "user": "alice", "queries": 0}
    {"op": "save", "username": "alice", "is_active": false}   (Model.save: signals)
    {"op": "save", "username": "alice", "new_username": "al"}
    {"op": "update", "username": "alice", "is_active": false}  (QuerySet.update: no signal)
    {"op": "changed", "username": "alice"}     -> tokenkeep.django.user_changed
    {"op": "delete", "username": "alice"}
    {"op": "create", "username": "alice"}

Run from tests/python/django_project with DJANGO_SETTINGS_MODULE=testsite.settings and the
site's and the store's databases in TOKENKEEP_TEST_SITE_DB and TOKENKEEP_TEST_DB.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.getcwd())  # the site (testsite/) is in the folder it runs from

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from tokenkeep.django import user_changed  # noqa: E402


def answer(command: dict) -> dict:
    users = get_user_model().objects
    op = command["op"]
    if op == "get":
        with CaptureQueriesContext(connection) as queries:
            r = Client().get("/api/devices", HTTP_AUTHORIZATION=f"Bearer {command['secret']}")
        body = r.json() if r.status_code == 200 else {}
        return {"status": r.status_code, "user": body.get("user"), "queries": len(queries)}
    if op == "create":
        users.create_user(command["username"], password="pw")
        return {}
    if op == "save":
        user = users.get(username=command["username"])
        if "is_active" in command:
            user.is_active = command["is_active"]
        if "new_username" in command:
            user.username = command["new_username"]
        user.save()
        return {}
    if op == "update":
        users.filter(username=command["username"]).update(is_active=command["is_active"])
        return {}
    if op == "changed":
        return {"announced": user_changed(command["username"])}
    if op == "delete":
        users.get(username=command["username"]).delete()
        return {}
    raise ValueError(op)


for line in sys.stdin:
    print(json.dumps(answer(json.loads(line))), flush=True)
