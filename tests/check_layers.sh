#!/bin/sh
# The layers' one-way flow (ARCHITECTURE.md): a source file may include headers of its own folder
# and of the folders below it, never of one above. Prints every back-edge and exits 1 if any.
# Usage: tests/check_layers.sh SOURCE_DIR
set -u
top=${1:-.}
layers="src/core src/linalg src/io src/data src/model src/optim optimizers src/train src/md src/exp src/cli"
rank() { # rank of folder $1, or empty
    i=0
    for l in $layers; do
        [ "$l" = "$1" ] && { echo $i; return; }
        i=$((i + 1))
    done
}
status=0
checked=0
for dir in $layers; do
    r=$(rank "$dir")
    for f in "$top/$dir"/*.c "$top/$dir"/*.h; do
        [ -f "$f" ] || continue
        checked=$((checked + 1))
        for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
            [ "$inc" = rlekf_git.h ] && continue
            found=""
            for l in $layers; do
                [ -f "$top/$l/$(basename "$inc")" ] && { found=$l; break; }
            done
            if [ -z "$found" ]; then
                echo "check_layers: ${f#$top/} includes \"$inc\", which is in no layer folder"
                status=1
            elif [ "$(rank "$found")" -gt "$r" ]; then
                echo "check_layers: ${f#$top/} ($dir) includes \"$inc\" from $found, a higher layer"
                status=1
            fi
        done
    done
done
[ "$checked" -gt 0 ] || { echo "check_layers: no sources under $top"; exit 1; }
[ $status -eq 0 ] && echo "check_layers: $checked files, no back-edge"
exit $status
