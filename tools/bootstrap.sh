#!/usr/bin/env bash
# Everything a fresh machine needs, idempotent: uv, a Python 3.12 interpreter, the locked virtualenv,
# PostgreSQL server binaries with TLS (for the TLS tests; the demo falls back to the pgserver wheel), and
# the pinned CDK CLI. Prints nothing when all is in place.
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never PIP_DISABLE_PIP_VERSION_CHECK=1

want_uv=0.13.9
if ! command -v uv >/dev/null 2>&1 || [[ "$(uv --version | awk '{print $2}')" != "$want_uv" ]]; then
  python3 -m pip install -q "uv==$want_uv" 2>&1 | grep -v -i warning || true
fi

# Python 3.12 = the Lambda runtime's. pyenv shims refuse versions that are not "global", so look for the
# interpreter itself.
py=""
for cand in "${PYTHON312:-}" "$(command -v python3.12 2>/dev/null || true)" \
            "$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12 2>/dev/null | sort -V | tail -1)"; do
  if [[ -n "$cand" ]] && "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then
    py=$cand; break
  fi
done
if [[ -z "$py" ]]; then
  echo "bootstrap: no Python 3.12 found (set PYTHON312=/path/to/python3.12)" >&2; exit 1
fi

if [[ ! -x .venv/bin/python ]] || ! .venv/bin/python -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null \
   || [[ uv.lock -nt .venv/.synced ]] || [[ pyproject.toml -nt .venv/.synced ]]; then
  uv sync --frozen --python "$py" -q
  touch .venv/.synced
fi

# PostgreSQL server binaries built with OpenSSL: the TLS tests need them.
have_pg() { for d in /usr/lib/postgresql/*/bin; do [[ -x "$d/postgres" ]] && ldd "$d/postgres" | grep -q libssl && return 0; done; return 1; }
if [[ "${SKIP_PG_INSTALL:-}" != "1" ]] && ! have_pg; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing PostgreSQL server binaries (Debian package postgresql)" >&2
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  else
    echo "bootstrap: no PostgreSQL server with TLS found; the TLS tests will fail (install 'postgresql')" >&2
  fi
fi

# The pinned CDK CLI (aws-cdk 2.x; the 3.x CLI cannot read this aws-cdk-lib's assemblies).
if [[ -f package-lock.json ]] && { [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; }; then
  npm ci --no-audit --no-fund --silent >/dev/null
fi
