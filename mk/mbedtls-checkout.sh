#!/bin/sh
# mbedTLS for the virtual board's ssl module: MicroPython's lib/mbedtls
# submodule at the commit MicroPython pins, its library and headers only (a
# sparse checkout: mirrors without mbedTLS's large test data work too).
#
#   mk/mbedtls-checkout.sh MICROPYTHON_DIR
#
# Checks out once; afterwards checks that the checkout is still the pin and
# says which release it is. Stops, touching nothing, when lib/mbedtls holds
# another commit (a checkout of your own).
set -eu
mpy=$1
dir=$mpy/lib/mbedtls
pin=$(git -C "$mpy" rev-parse HEAD:lib/mbedtls)
have=$(git -C "$dir" rev-parse HEAD 2>/dev/null || true)
if [ -z "$have" ] || [ "$have" = "$(git -C "$mpy" rev-parse HEAD)" ]; then
    # Not a repository of its own yet (an empty submodule directory).
    url=$(git -C "$mpy" config -f .gitmodules submodule.lib/mbedtls.url)
    rm -rf "$dir"
    git clone --quiet --no-checkout "$url" "$dir"
    git -C "$dir" sparse-checkout set --cone --sparse-index library include
    git -C "$dir" -c advice.detachedHead=false checkout --quiet "$pin"
    have=$(git -C "$dir" rev-parse HEAD)
fi
if [ "$have" != "$pin" ]; then
    echo "mbedtls: $dir is at $have, not MicroPython's pin $pin: check out the pin (or remove the directory)" >&2
    exit 1
fi
echo "mbedtls: $(git -C "$dir" describe --tags --always) ($pin, MicroPython's pin)"
