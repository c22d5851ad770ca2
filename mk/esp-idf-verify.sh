#!/usr/bin/env bash
# Checks that the ESP-IDF sources the host build and the C tests compile are
# upstream's, unmodified, and says exactly what they are. Prints one summary
# line; exits 1, naming the files, when anything differs.
#
#   mk/esp-idf-verify.sh SRC MANIFEST [NAME]
#
# NAME names the tree in messages ("ESP-IDF"; the QEMU board checks its
# FreeRTOS-Kernel with the same script, mk/freertos.mk).
# MANIFEST (mk/esp-idf-<tag>.sha1, written by `make idf-manifest`) holds:
#   tag <tag>
#   pin <submodule path> <commit>         the commit ESP-IDF's tag pins
#   <blob sha1>  <path>                   a file of ESP-IDF's, at the tag
#   <blob sha1>  <path>  <commit>         a submodule's file, at that commit
# ESP-IDF's own files must hash as listed. A submodule's files (tlsf, Unity):
# in a git checkout, each must hash as its HEAD commit has it, and that commit
# is named, with whether it is ESP-IDF's pin; in a tree that is not a git
# checkout (an ESP-IDF release archive), they must match one commit listed.
set -euo pipefail

src=${1:?usage: esp-idf-verify.sh SRC MANIFEST}
manifest=$(realpath "${2:?usage: esp-idf-verify.sh SRC MANIFEST}")
name=${3:-ESP-IDF}
cd "$src" || { echo "esp-idf-verify: no $name tree at $src" >&2; exit 1; }

tag=$(sed -n 's/^tag //p' "$manifest")
bad=()
count=0
# ESP-IDF's own files.
while read -r sha path; do
    count=$((count + 1))
    [ "$(git hash-object "$path" 2>/dev/null)" = "$sha" ] || bad+=("$path")
done < <(awk 'NF == 2 && length($1) == 40 && $1 !~ /[^0-9a-f]/' "$manifest")
if [ ${#bad[@]} -gt 0 ]; then
    echo "esp-idf-verify: $name at $src differs from $tag in:" >&2
    printf '  %s\n' "${bad[@]}" >&2
    exit 1
fi
summary="$name $tag: $count files = the tag's"

# Each pinned submodule.
while read -r _ sub pin; do
    name=${sub##*/}
    [ "$name" = unity ] && name=Unity
    mapfile -t files < <(awk -v s="$sub/" 'NF == 3 && index($2, s) == 1 { print $2 }' "$manifest" | sort -u)
    [ ${#files[@]} -gt 0 ] || { echo "esp-idf-verify: $manifest lists no file of $sub" >&2; exit 1; }
    missing=()
    for f in "${files[@]}"; do [ -f "$f" ] || missing+=("$f"); done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "esp-idf-verify: $sub is incomplete at $src (missing: ${missing[*]});" \
            "in a git checkout of ESP-IDF: git submodule update --init $sub" >&2
        exit 1
    fi
    # A git checkout of its own (not ESP-IDF's repository, seen from an empty directory).
    if top=$(git -C "$sub" rev-parse --show-toplevel 2>/dev/null) && [ "$top" -ef "$sub" ]; then
        commit=$(git -C "$sub" rev-parse HEAD)
        for f in "${files[@]}"; do
            rel=${f#"$sub"/}
            [ "$(git hash-object "$f")" = "$(git -C "$sub" rev-parse "HEAD:$rel" 2>/dev/null)" ] || bad+=("$f")
        done
        if [ ${#bad[@]} -gt 0 ]; then
            echo "esp-idf-verify: $sub differs from its commit ${commit:0:8} in: ${bad[*]}" >&2
            exit 1
        fi
    else
        # Not a git checkout: the commit whose listed hashes all match.
        commit=
        for c in $(awk -v s="$sub/" 'NF == 3 && index($2, s) == 1 { print $3 }' "$manifest" | sort -u); do
            ok=1
            for f in "${files[@]}"; do
                want=$(awk -v p="$f" -v c="$c" '$2 == p && $3 == c { print $1 }' "$manifest")
                [ -n "$want" ] && [ "$(git hash-object "$f")" = "$want" ] || { ok=0; break; }
            done
            if [ $ok = 1 ]; then commit=$c; break; fi
        done
        [ -n "$commit" ] || { echo "esp-idf-verify: $sub at $src matches no commit $manifest lists (not a git checkout)" >&2; exit 1; }
    fi
    if [ "$commit" = "$pin" ]; then
        summary+="; $name ${commit:0:8} (ESP-IDF's pin)"
    else
        summary+="; $name ${commit:0:8}, NOT ESP-IDF's pin ${pin:0:8}"
    fi
done < <(grep '^pin ' "$manifest")
echo "$summary"
