#!/bin/sh
# A skip-all: the whole file is skipped, which counts as a pass.
echo "1..0 # SKIP no network in the demo"
