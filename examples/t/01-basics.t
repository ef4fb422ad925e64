#!/bin/sh
# A plain shell script that prints TAP: no library needed.
echo "1..3"
echo "ok 1 - the shell runs"
[ "$(echo hello | tr a-z A-Z)" = HELLO ] && echo "ok 2 - tr upper-cases" || echo "not ok 2 - tr upper-cases"
case "$HARNESS_ACTIVE" in
    1) echo "ok 3 - HARNESS_ACTIVE is set" ;;
    *) echo "ok 3 - run by hand # SKIP not under a harness" ;;
esac
