#!/bin/sh
# A TODO test fails but is expected to: the file still passes.
echo "1..3"
echo "ok 1 - parse a plain plan"
echo "not ok 2 - parse plans written in Roman numerals # TODO not written yet"
echo "ok 3 - ignore this one # SKIP needs a printer"
