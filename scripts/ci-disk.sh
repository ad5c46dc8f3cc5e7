#!/usr/bin/env bash
# Disk preflight for .ci/run. The install needs about 8 GB (measured 2026-12-02: .venv with CUDA
# torch 7.2 GB, the cached control plane 0.24 GB, plus .venv-checkov and Chromium), more while
# the control plane is built (Go caches, removed afterwards), and pip may keep a second copy of
# every downloaded wheel in its cache.
# A CI run once failed 71 s in with "No space left on device" inside pip: this prints where the
# space is, turns pip's cache off when space is short (the downloads are then not kept), and
# stops with one clear line when even that cannot fit.
set -euo pipefail
cd "$(dirname "$0")/.."
need_gb="${TCPLAB_CI_NEED_GB:-8}"
roomy_gb="${TCPLAB_CI_ROOMY_GB:-30}"
free_kb() { df -Pk "$1" | awk 'NR==2 {print $4}'; }
here_gb=$(( $(free_kb .) / 1024 / 1024 ))
home_gb=$(( $(free_kb "$HOME") / 1024 / 1024 ))
free_gb=$(( here_gb < home_gb ? here_gb : home_gb ))
echo "ci-disk: ${here_gb} GB free here, ${home_gb} GB free under \$HOME (need ~${need_gb} GB)"
rm -f .ci-disk.env
if [ "$free_gb" -lt "$roomy_gb" ]; then
  echo "ci-disk: under ${roomy_gb} GB free: pip's cache is off for this run (PIP_NO_CACHE_DIR=1)"
  echo "export PIP_NO_CACHE_DIR=1" > .ci-disk.env
  du -xsh "$HOME/.cache"/* 2>/dev/null | sort -h | tail -5 | sed 's/^/ci-disk: cache /' || true
fi
if [ "$free_gb" -lt "$need_gb" ]; then
  echo "ci-disk: error: ${free_gb} GB free, the install needs about ${need_gb} GB" >&2
  exit 1
fi
