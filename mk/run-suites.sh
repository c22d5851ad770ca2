#!/usr/bin/env bash
# Runs every test suite `make test` has, each whatever the others did, and says
# at the end how each went and how long it took; exits 1 if any failed.
#
#   mk/run-suites.sh NAME COMMAND [NAME COMMAND ...]
#
# Each COMMAND runs in bash; its output goes straight through, under a
# "== NAME" line, so a suite that fails is read in place and named again in the
# summary.
set -u
if [ $(($# % 2)) -ne 0 ] || [ $# -eq 0 ]; then
    echo "usage: $0 NAME COMMAND [NAME COMMAND ...]" >&2
    exit 2
fi
names=()
results=()
failed=0
started_all=$SECONDS
while [ $# -gt 0 ]; do
    name=$1 command=$2
    shift 2
    echo
    echo "== $name"
    started=$SECONDS
    bash -c "$command"
    rc=$?
    names+=("$name")
    if [ $rc -eq 0 ]; then
        results+=("passed   ($((SECONDS - started)) s)")
    else
        results+=("FAILED   ($((SECONDS - started)) s, exit status $rc)")
        failed=1
    fi
done
echo
echo "== make test: every suite, $((SECONDS - started_all)) s"
for i in "${!names[@]}"; do
    printf '  %-58s %s\n' "${names[$i]}" "${results[$i]}"
done
if [ $failed -ne 0 ]; then
    echo "make test: FAILED (see each failed suite's output above)"
    exit 1
fi
echo "make test: all passed"
