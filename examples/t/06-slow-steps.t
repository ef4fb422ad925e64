#!/bin/sh
# Takes a few seconds, one point per second, so the live status line moves.
echo "1..3"
for i in 1 2 3; do
    sleep 1
    echo "ok $i - step $i after ${i}s"
done
