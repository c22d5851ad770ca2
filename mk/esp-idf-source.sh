#!/usr/bin/env bash
# Gets the ESP-IDF sources the host build compiles and check-idf reads: just the
# directories listed below, at one tag, plus the heap's tlsf submodule and
# ESP-IDF's Unity, from their upstream URLs. Idempotent: a finished checkout is
# left alone.
#
#   mk/esp-idf-source.sh DEST TAG
#
# Prints one line naming what it used. DEST/.heaptrack-source records it.
#
# Why not a plain clone: ESP-IDF with all its submodules is gigabytes, and the
# host needs a few megabytes of it. A filtered (blobless) shallow clone of one
# tag plus a sparse checkout fetches only the files it checks out. Where the URL
# is rewritten (url.<x>.insteadOf) to a local mirror, git ignores --depth and
# --filter and makes a local clone; --shared then keeps it to a few hundred
# kilobytes (objects stay in the mirror) instead of a full copy.
set -euo pipefail

dest=${1:?usage: esp-idf-source.sh DEST TAG}
tag=${2:?usage: esp-idf-source.sh DEST TAG}
IDF_URL=${HEAPTRACK_IDF_URL:-https://github.com/espressif/esp-idf.git}
TLSF_URL=${HEAPTRACK_TLSF_URL:-https://github.com/espressif/tlsf.git}
UNITY_URL=${HEAPTRACK_UNITY_URL:-https://github.com/ThrowTheSwitch/Unity.git}
stamp=$dest/.heaptrack-source

# What the host build, the ESP-IDF test cases and check-idf read. Kconfig files
# everywhere: kconfgen loads every component's options to make an sdkconfig.h;
# linker fragments (.lf) and ldgen's parser: where ESP-IDF places each function
# (mk/check_placement.py).
SPARSE=(
    /Kconfig /sdkconfig.rename /tools/cmake/version.cmake /tools/kconfig_new/ /tools/ldgen/ldgen/
    'Kconfig*' 'sdkconfig.rename*' '*.lf'
    /components/heap/ /components/esp_common/ /components/esp_rom/ /components/esp_mm/
    /components/esp_system/include/ /components/esp_system/port/include/
    /components/esp_hw_support/include/ /components/esp_hw_support/port/include/
    /components/esp_hw_support/esp_memory_utils.c /components/esp_psram/include/
    /components/esp_hw_support/dma/include/
    /components/esp_driver_spi/include/ /components/esp_driver_gpio/include/ /components/esp_pm/include/
    /components/soc/ /components/hal/ /components/log/ /components/freertos/
    /components/riscv/ /components/xtensa/ /components/newlib/ /components/unity/
)

sparse_sum=$(printf '%s\n' "${SPARSE[@]}" | cksum | cut -d' ' -f1)
if [ -f "$stamp" ] && grep -qx "tag=$tag" "$stamp"; then
    # The same tag: at most the list of directories changed.
    if ! grep -qx "sparse=$sparse_sum" "$stamp"; then
        git -C "$dest" sparse-checkout set --no-cone "${SPARSE[@]}"
        sed -i "s/^sparse=.*/sparse=$sparse_sum/" "$stamp"
        grep -qx "sparse=$sparse_sum" "$stamp" || echo "sparse=$sparse_sum" >>"$stamp"
    fi
    sed -n 's/^summary=//p' "$stamp"
    exit 0
fi

say() { echo "esp-idf-source: $*" >&2; }
fail() { say "$*"; exit 1; }
command -v git >/dev/null || fail "needs git"

rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
say "ESP-IDF $tag from $IDF_URL (sparse: heap and the headers it needs)"
git clone --quiet --shared --no-checkout --depth 1 --filter=blob:none --branch "$tag" \
    "$IDF_URL" "$dest" 2>/dev/null ||
    git clone --quiet --shared --no-checkout "$IDF_URL" "$dest" ||
    fail "cannot clone $IDF_URL (is the network or a url.insteadOf mirror there?)"
git -C "$dest" sparse-checkout set --no-cone "${SPARSE[@]}"
git -C "$dest" -c advice.detachedHead=false checkout --quiet "$tag" ||
    fail "no tag $tag in $IDF_URL"

# A submodule at the commit ESP-IDF pins, or (when that commit cannot be had)
# the newest commit of its default branch. $1 path in ESP-IDF, $2 URL.
submodule() {
    local path=$1 url=$2 pin
    pin=$(git -C "$dest" rev-parse "HEAD:$path")
    rm -rf "${dest:?}/$path"
    git clone --quiet --shared --no-checkout "$url" "$dest/$path" ||
        fail "cannot clone $url"
    if git -C "$dest/$path" -c advice.detachedHead=false checkout --quiet "$pin" 2>/dev/null ||
        { git -C "$dest/$path" fetch --quiet origin "$pin" 2>/dev/null &&
          git -C "$dest/$path" -c advice.detachedHead=false checkout --quiet "$pin"; }; then
        echo "$(git -C "$dest/$path" rev-parse --short=8 HEAD) (ESP-IDF's pin)"
    else
        git -C "$dest/$path" -c advice.detachedHead=false checkout --quiet origin/HEAD ||
            fail "cannot check out $url"
        say "WARNING: $url has no commit ${pin:0:8} (ESP-IDF $tag's pin); using its newest, $(git -C "$dest/$path" rev-parse --short=8 HEAD)"
        echo "$(git -C "$dest/$path" rev-parse --short=8 HEAD) (newest; ESP-IDF pins ${pin:0:8})"
    fi
}

tlsf=$(submodule components/heap/tlsf "$TLSF_URL")
unity=$(submodule components/unity/unity "$UNITY_URL")
summary="ESP-IDF $tag ($(git -C "$dest" rev-parse --short=10 HEAD)), tlsf $tlsf, Unity $unity"
printf 'tag=%s\nsparse=%s\nsummary=%s\n' "$tag" "$sparse_sum" "$summary" >"$stamp"
echo "$summary"
