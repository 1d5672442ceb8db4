#!/usr/bin/env bash
# The Python environment of the package's build and tests: .venv, a virtual environment made with
# --system-site-packages so that Debian's python3-torch and python3-numpy are visible (Debian's
# system Python is externally managed: nothing is pip-installed into it), plus nanobind,
# scikit-build-core and pytest from PyPI. Safe to re-run: installs only what is missing.
# Prints nothing on success; use .venv/bin/python afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x .venv/bin/python ]]; then
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
if ! .venv/bin/python -c "import nanobind, scikit_build_core, pytest" 2>/dev/null; then
  .venv/bin/pip install -q "nanobind>=2.0" "scikit-build-core>=0.10" pytest
fi
