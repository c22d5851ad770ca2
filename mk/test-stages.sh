#!/usr/bin/env bash
# make test's stages, one after the other, each a `make STAGE`; then where the
# time went. Stops at the first stage that fails (its table says which).
#
#   mk/test-stages.sh MAKE STAGE...
set -u
make_cmd=$1
shift
names=()
times=()
failed=""
total_start=$(date +%s)
for stage in "$@"; do
    start=$(date +%s)
    $make_cmd --no-print-directory "$stage"
    status=$?
    names+=("$stage")
    times+=($(( $(date +%s) - start )))
    if [ $status -ne 0 ]; then
        failed=$stage
        break
    fi
done
total=$(( $(date +%s) - total_start ))
echo
echo "make test: where the time went"
for i in "${!names[@]}"; do
    printf '  %-22s %3dm%02ds%s\n' "${names[$i]}" $(( times[i] / 60 )) $(( times[i] % 60 )) \
        "$([ "${names[$i]}" = "$failed" ] && echo "  FAILED")"
done
printf '  %-22s %3dm%02ds\n' total $(( total / 60 )) $(( total % 60 ))
[ -z "$failed" ]
