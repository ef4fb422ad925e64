#!/bin/sh
# TAP version 13 with a YAML diagnostic block on a passing point; slow too.
echo "TAP version 13"
echo "1..2"
sleep 1
echo "ok 1 - measured latency"
echo "  ---"
echo "  message: within budget"
echo "  data:"
echo "    got: 12"
echo "    limit: 50"
echo "  ..."
sleep 1
echo "ok 2 - cleaned up"
