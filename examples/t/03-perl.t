#!/usr/bin/perl
# A Perl test with Test::More, run through perl like prove does.
use strict;
use warnings;
use Test::More tests => 5;

is(1 + 1, 2, 'addition');
like('proctor', qr/^pro/, 'prefix matches');
is_deeply([sort { $a <=> $b } 3, 1, 2], [1, 2, 3], 'numeric sort');
ok(length($ENV{TMPDIR} // '/tmp') > 0, 'TMPDIR is set or defaults');
subtest 'nested' => sub {
    plan tests => 2;
    ok(1, 'inner one');
    ok(1, 'inner two');
};
