#!/bin/sh
# Shell TAP with a counter, diagnostics on stdout as comments.
n=0
check() { # check DESCRIPTION COMMAND...
    n=$((n + 1)); desc=$1; shift
    if "$@"; then echo "ok $n - $desc"; else echo "not ok $n - $desc"; fi
}
echo "1..4"
check "addition" test $((2 + 2)) -eq 4
check "multiplication" test $((6 * 7)) -eq 42
echo "# integer division rounds toward zero"
check "division" test $((7 / 2)) -eq 3
check "TMPDIR is writable" sh -c 'f=$(mktemp) && rm -f "$f"'
