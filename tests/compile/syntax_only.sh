#!/bin/sh
# Compiler launcher of the header compile checks: runs the compile command it is given with
# -fsyntax-only (no code is generated: only whether the header compiles matters), then
# creates the object file the command names, empty, so that the build is up to date.
out=""
prev=""
for arg in "$@"; do
    [ "$prev" = "-o" ] && out=$arg
    prev=$arg
done
"$@" -fsyntax-only || exit
[ -z "$out" ] || : >"$out"
