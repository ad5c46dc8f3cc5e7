#!/usr/bin/env bash
# Build the wheel and sdist, install the wheel (no extras) into a fresh venv OUTSIDE the source
# tree, and use it as a new user would: --version, a descriptor round trip, and a quickstart on
# a small stratified sample with the arms that need no extra. `make wheel-smoke` runs it; CI too.
# Prints the wall time of each step.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-python3}"
BUILD_PY="${BUILD_PY:-.venv/bin/python}"
work="$(mktemp -d /tmp/tcplab-wheel.XXXXXX)"
trap 'rm -rf "$work"' EXIT
t0=$(date +%s%N)
step() {
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  printf '[wheel-smoke] %-36s %d.%03d s\n' "$1" $((ms / 1000)) $((ms % 1000))
}

"$BUILD_PY" -m build --wheel --sdist --outdir "$work/dist" . >"$work/build.log" 2>&1 \
  || { cat "$work/build.log"; exit 1; }
step "built wheel + sdist"
wheel="$(ls "$work"/dist/tcplab-*.whl)"
# the listing goes to a file, not a pipe (with pipefail, grep -q would SIGPIPE the lister)
"$PY" -m zipfile -l "$wheel" >"$work/contents.txt"
for f in tcplab/data/examples/quickstart.yaml tcplab/data/labels/tcplab-holdout-v1.csv tcplab/rules/rules_v3.yaml \
         tcplab/service/templates/base.html tcplab/service/static/app.js \
         tcplab/registry/_tcpcold.c tcplab/data/kubernetes/base/kustomization.yaml \
         tcplab/data/kubernetes/overlays/us-east-1/storageclass.yaml; do
  grep -q "$f" "$work/contents.txt" || { echo "wheel lacks $f" >&2; exit 1; }
done

"$PY" -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$wheel"
step "installed wheel (no extras)"

cd "$work"   # no source tree here: the installed package alone must work
export TCPLAB_HOME="$work/home"
tcplab="$work/venv/bin/tcplab"
"$tcplab" --version
hex="$("$tcplab" descriptor encode --command ls --risk SAFE)"
decoded="$("$tcplab" descriptor decode "$hex" --json)"
grep -q '"risk_level": "SAFE"' <<<"$decoded" || { echo "decode: $decoded" >&2; exit 1; }
step "--version, encode/decode"
# the Kubernetes manifests are package data: `tcplab deploy` finds them without the source tree
# (listing them needs neither kubectl nor the kube extra)
overlays="$("$work/venv/bin/python" -c 'import tcplab.kube as k; r = k.manifests_root(); print(r, *k.list_overlays(r))')"
[[ "$overlays" == "$work/venv/"*"/tcplab/data/kubernetes dev europe-west1 prod us-east-1 westeurope" ]] \
  || { echo "manifests: $overlays" >&2; exit 1; }
step "manifests (package data)"
if "$tcplab" quickstart --limit 5 >"$work/embedding.log" 2>&1; then
  echo "quickstart with the embedding arm should ask for the ml extra" >&2; exit 1
fi
grep -q "pip install 'tcplab\[ml\]'" "$work/embedding.log" \
  || { cat "$work/embedding.log"; echo "missing-extra message lacks the pip command" >&2; exit 1; }
"$tcplab" quickstart --limit "${SMOKE_LIMIT:-10}" --arms tcp,tcp-cold,rules
step "quickstart (tcp, tcp-cold, rules)"
