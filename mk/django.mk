# Django and DRF (issue 12): tokenkeep.django, its tests (tests/python/django_tests/, run by py-test)
# and the benchmark against DRF's TokenAuthentication, django-rest-knox and
# djangorestframework-api-key (benchmarks/django_bench.py, part of `make bench`).
# The bench extra (knox, api-key, gunicorn) is added by mk/postgres.mk.
PIP_EXTRAS := $(PIP_EXTRAS),django
EXTRA_BENCHES += bench-django

.PHONY: bench-django

bench-django: setup
	$(PY) benchmarks/django_bench.py
