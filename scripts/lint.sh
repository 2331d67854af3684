#!/usr/bin/env bash
# Static checks: ansible-lint (production profile, no skip list), yamllint, ruff, role variable drift.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"
echo "lint: yamllint"; yamllint --strict .
echo "lint: ansible-lint"; ansible-lint --offline -q
echo "lint: ruff"; ruff check . && ruff format --check .
echo "lint: role variables"; python scripts/role_docs.py --check
