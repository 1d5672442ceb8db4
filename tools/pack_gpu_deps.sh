#!/usr/bin/env bash
# Packs the build dependencies a GPU machine without a package registry lacks into .deps/ (ignored
# by git; carry it to the GPU machine with the checkout): googletest and nlohmann-json by the shared
# script ../shared/gpu/pack-deps.sh (or /work/shared/gpu/pack-deps.sh), plus CLI11's headers for
# the examples and the bench. Then: tools/gpu_check.sh quick OUTDIR (it finds .deps itself).
# Usage: tools/pack_gpu_deps.sh   (from the project's root, on a machine with Debian's packages)
set -eu
[[ -d .git || -f .git ]] || { echo "run this from the project's root" >&2; exit 2; }
shared=
for candidate in ../shared/gpu/pack-deps.sh /work/shared/gpu/pack-deps.sh; do
  [[ -x $candidate || -f $candidate ]] && { shared=$candidate; break; }
done
[[ -n $shared ]] || { echo "pack_gpu_deps: no shared/gpu/pack-deps.sh found" >&2; exit 2; }
# The shared script wants a .git folder; in a worktree .git is a file, so it gets a stand-in folder
# while it runs (its exclude rule is not needed: the project's .gitignore has /.deps/).
if [[ -d .git ]]; then
  bash "$shared" .deps
else
  mv .git .git.file && mkdir -p .git/info
  trap 'rm -rf .git && mv .git.file .git' EXIT
  bash "$shared" .deps
fi
if [[ ! -f /usr/include/CLI/CLI.hpp ]]; then
  apt-get update -qq && apt-get install -y -qq libcli11-dev >/dev/null 2>&1
fi
mkdir -p .deps/CLI11/include
rm -rf .deps/CLI11/include/CLI
cp -r /usr/include/CLI .deps/CLI11/include/CLI
du -sh .deps | sed 's/^/packed with CLI11: /'
