#!/usr/bin/env bash
# Gets FreeRTOS-Kernel's sources the QEMU board compiles (boards/QEMU_RV32):
# the kernel's own files and its GCC RISC-V port, at one tag, from the
# upstream URL. Idempotent: a finished checkout is left alone.
#
#   mk/freertos-source.sh DEST TAG
#
# Prints one line naming what it used. DEST/.heaptrack-source records it.
# As mk/esp-idf-source.sh: a shared clone (a local mirror's objects stay in the
# mirror) with a sparse checkout of what the board compiles; mk/esp-idf-verify.sh
# then checks every file against mk/freertos-kernel-<tag>.sha1.
set -euo pipefail

dest=${1:?usage: freertos-source.sh DEST TAG}
tag=${2:?usage: freertos-source.sh DEST TAG}
URL=${HEAPTRACK_FREERTOS_URL:-https://github.com/FreeRTOS/FreeRTOS-Kernel.git}
stamp=$dest/.heaptrack-source

SPARSE=(/LICENSE.md '/*.c' /include/ /portable/GCC/RISC-V/)

sparse_sum=$(printf '%s\n' "${SPARSE[@]}" | cksum | cut -d' ' -f1)
if [ -f "$stamp" ] && grep -qx "tag=$tag" "$stamp" && grep -qx "sparse=$sparse_sum" "$stamp"; then
    sed -n 's/^summary=//p' "$stamp"
    exit 0
fi

say() { echo "freertos-source: $*" >&2; }
fail() { say "$*"; exit 1; }
command -v git >/dev/null || fail "needs git"

rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
say "FreeRTOS-Kernel $tag from $URL (sparse: the kernel and its GCC RISC-V port)"
git clone --quiet --shared --no-checkout --depth 1 --filter=blob:none --branch "$tag" "$URL" "$dest" 2>/dev/null ||
    git clone --quiet --shared --no-checkout "$URL" "$dest" ||
    fail "cannot clone $URL (is the network or a url.insteadOf mirror there?)"
git -C "$dest" sparse-checkout set --no-cone "${SPARSE[@]}"
git -C "$dest" -c advice.detachedHead=false checkout --quiet "$tag" || fail "no tag $tag in $URL"
summary="FreeRTOS-Kernel $tag ($(git -C "$dest" rev-parse --short=10 HEAD))"
printf 'tag=%s\nsparse=%s\nsummary=%s\n' "$tag" "$sparse_sum" "$summary" >"$stamp"
echo "$summary"
