"""The commands of ``tokenkeep``, one module per command; each has ``register(cli)``.

A new command is a new module here and one line in :data:`COMMANDS`.
"""

# Module names, in the order ``tokenkeep --help`` lists them.
COMMANDS = (
    "create",
    "listing",
    "show",
    "edit",
    "networks",
    "revoke",
    "rotate",
    "verify",
    "expiring",
    "purge",
    "audit",
    "serve",
    "service",
    "scopes",
    "completion",
    "leak",
    "scanner_rules",
)
