use strict;
use warnings;
use Test::More;

is(1, 2, 'one is two');
done_testing;
