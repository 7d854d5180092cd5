# PostgreSQL store (issue 9): the client library the engine links, and the server the
# PostgreSQL tests run against (make test starts a throwaway cluster: mk/ of the test side).
APT_PACKAGES += postgresql libpq-dev
