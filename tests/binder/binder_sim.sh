#!/usr/bin/env bash
# tests/binder/binder_sim.sh REPO ENV_DIR
#
# Build mmsim's Binder environment the way repo2docker (mybinder.org) would,
# without Docker, so CI can catch a broken Binder setup before a learner does:
#
#   1. config comes ONLY from REPO/binder/ (repo2docker ignores root files such as
#      pyproject.toml once binder/ exists, so mmsim must be installed by postBuild);
#      environment.yml / Dockerfile would select another buildpack: refused here;
#   2. Python from binder/runtime.txt ("python-X.Y"; repo2docker's default is 3.10);
#   3. a fresh venv, then `pip install -r binder/requirements.txt` run from the repo
#      root, with repo2docker's base environment (jupyterlab 4, notebook 7,
#      ipywidgets 8, jupyter_server 2) as *constraints*: the pins must fit inside it,
#      or the real build would downgrade/upgrade the server under the extensions;
#   4. binder/postBuild from the repo root, with NB_PYTHON_PREFIX,
#      KERNEL_PYTHON_PREFIX and REPO_DIR set and the env first on PATH;
#   5. checks: every requirement installed at its pinned version, `pip check`,
#      ipywidgets' JupyterLab extension enabled, mmsim importable from REPO.
#
# Not reproduced: conda-forge builds of the packages, the non-root `jovyan` user
# (postBuild runs as whoever runs this), apt.txt and the `start` entrypoint.
# Set BINDER_SIM_NO_CACHE=1 to install with --no-cache-dir like repo2docker.
# Prints "BINDER_ENV=<dir>" last.
set -euo pipefail

REPO=$(cd "${1:?usage: binder_sim.sh REPO ENV_DIR}" && pwd)
ENV_DIR=${2:?usage: binder_sim.sh REPO ENV_DIR}
cd "$REPO"

say() { echo "binder-sim: $*"; }
die() { echo "binder-sim: ERROR: $*" >&2; exit 1; }

[[ -d binder ]] || die "no binder/ folder in $REPO"
[[ -d .binder ]] && die "both binder/ and .binder/ exist (repo2docker refuses)"
for f in environment.yml environment.yaml Dockerfile Pipfile; do
  [[ -e binder/$f ]] && die "binder/$f selects another repo2docker buildpack; not simulated"
done
[[ -e binder/requirements.txt ]] || die "binder/requirements.txt missing"
[[ -e binder/apt.txt ]] && say "WARNING: binder/apt.txt is not simulated"
if [[ -e binder/postBuild ]]; then
  grep -Eq '^\s*set\s+-[a-z]*e' binder/postBuild \
    || die "binder/postBuild has no 'set -e': repo2docker would ignore errors inside it"
  grep -Eq 'pip[0-9.]* install .*(-e +)?\.( |$)' binder/postBuild \
    || die "binder/postBuild does not install mmsim (pip install -e . / .): Binder would lack it"
else
  die "no binder/postBuild: with binder/ present nothing installs mmsim itself"
fi

[[ -e binder/runtime.txt ]] || die "no binder/runtime.txt: Python would be repo2docker's default"
rt=$(tr -d '[:space:]' < binder/runtime.txt)
[[ $rt =~ ^python-([0-9]+\.[0-9]+)$ ]] || die "binder/runtime.txt '$rt' is not python-X.Y"
PYVER=${BASH_REMATCH[1]}
PY=""
for cand in "python$PYVER" python3; do
  p=$(command -v "$cand" || true)
  if [[ -n $p ]] && [[ $("$p" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) == "$PYVER" ]]; then
    PY=$p; break
  fi
done
if [[ -z $PY ]] && command -v pyenv >/dev/null; then
  v=$(pyenv versions --bare 2>/dev/null | grep -E "^${PYVER//./\\.}(\\.[0-9]+)?$" | tail -n 1 || true)
  [[ -n $v ]] && PY="$(pyenv root)/versions/$v/bin/python$PYVER"
fi
[[ -n $PY ]] || die "no python$PYVER here: cannot reproduce binder/runtime.txt"
say "runtime.txt python-$PYVER -> $PY"

t0=$SECONDS
if [[ -e $ENV_DIR ]]; then
  [[ -e $ENV_DIR/pyvenv.cfg || -z $(ls -A "$ENV_DIR") ]] \
    || die "$ENV_DIR exists and is not a virtualenv: refusing to replace it"
  rm -rf "$ENV_DIR"
fi
"$PY" -m venv "$ENV_DIR"
PIP=("$ENV_DIR/bin/python" -m pip)
cache=()
[[ ${BINDER_SIM_NO_CACHE:-0} == 1 ]] && cache=(--no-cache-dir)
base=$(mktemp)
trap 'rm -f "$base"' EXIT
# repo2docker's base environment (buildpacks/conda/environment.yml), as constraints
printf '%s\n' "jupyterlab==4.*" "notebook==7.*" "ipywidgets==8.*" "jupyter_server==2.*" > "$base"
"${PIP[@]}" install -q "${cache[@]}" -r binder/requirements.txt -c "$base"
say "requirements installed in $((SECONDS - t0)) s"
t1=$SECONDS
chmod +x binder/postBuild
NB_PYTHON_PREFIX="$ENV_DIR" KERNEL_PYTHON_PREFIX="$ENV_DIR" REPO_DIR="$REPO" \
  PATH="$ENV_DIR/bin:$PATH" VIRTUAL_ENV="$ENV_DIR" ./binder/postBuild
say "postBuild ran in $((SECONDS - t1)) s; environment built in $((SECONDS - t0)) s"

# every pin installed as written
"$ENV_DIR/bin/python" - binder/requirements.txt <<'PY'
import re, sys
from importlib.metadata import version, PackageNotFoundError
bad = []
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
    if not m:
        bad.append(f"not an exact pin: {line!r}")
        continue
    try:
        have = version(m.group(1))
    except PackageNotFoundError:
        have = None
    if have != m.group(2):
        bad.append(f"{m.group(1)}: pinned {m.group(2)}, installed {have}")
if bad:
    sys.exit("binder-sim: ERROR: " + "; ".join(bad))
print("binder-sim: every pin installed as written")
PY
"${PIP[@]}" check
labext=$(PATH="$ENV_DIR/bin:$PATH" "$ENV_DIR/bin/jupyter" labextension list 2>&1)
grep -q '@jupyter-widgets/jupyterlab-manager.*enabled.*OK' <<<"$labext" \
  || die "ipywidgets' JupyterLab extension is not enabled in the Binder env: $labext"
where=$(cd / && "$ENV_DIR/bin/python" -c 'import mmsim, os; print(os.path.dirname(mmsim.__file__))')
[[ $where == "$REPO/mmsim" ]] || die "mmsim imports from $where, not from the checkout $REPO"
say "mmsim imports from the checkout; widget extension enabled"
echo "BINDER_ENV=$ENV_DIR"
