#!/usr/bin/perl
# A slow Perl test with a trailing plan (done_testing) and a note on stderr.
use strict;
use warnings;
use Test::More;

for my $i (1 .. 2) {
    sleep 1;
    ok(1, "tick $i");
}
diag('diagnostics go to stderr');
done_testing();
