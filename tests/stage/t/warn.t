#!/usr/bin/perl -w
use Test::More;
is($^W, 1, 'the -w on the #! line turned warnings on');
done_testing;
