#!/bin/sh
# Installs what `make test` needs beyond scripts/install-deps.sh: Debian's
# chromium (the browser tests in tests/browser drive it headless), Node.js
# when the machine has none, and the npm packages the tests drive against
# the real server (tests/node: playwright-core, openid-client for the
# recipes) exactly as package-lock.json pins them. `make run` needs none of
# it. Idempotent: apt is asked only for what is missing (through
# install-deps.sh), and npm ci runs only when the lock file changed since
# the last install.
set -eu
cd "$(dirname "$0")/../tests/node"

# Node.js from Debian only where the machine has none (CI's image has one).
node_pkgs=""
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
  node_pkgs="nodejs npm"
# shellcheck disable=SC2086
../../scripts/install-deps.sh chromium $node_pkgs

# npm ci leaves node_modules/.package-lock.json; same versions: up to date.
if [ -f node_modules/.package-lock.json ] &&
   node -e 'const a = require("./package-lock.json").packages;
            const b = require("./node_modules/.package-lock.json").packages;
            const ok = Object.keys(a).filter((k) => k !== "")
              .every((k) => b[k] && b[k].version === a[k].version);
            process.exit(ok ? 0 : 1)'; then
  exit 0
fi
echo "latchkey: npm ci (tests/node)"
npm ci --no-audit --no-fund --loglevel=error
