"""TOKENKEEP["USER"] of the tests: a token of owner "svc-<name>" acts as the user <name>."""

from django.contrib.auth import get_user_model


def owner_to_user(owner: str):
    if not owner.startswith("svc-"):
        return None
    return get_user_model().objects.filter(username=owner[len("svc-") :]).first()
