use strict;
use warnings;
use Test::More;

# Seeder (preloaded) has a large __DATA__: each test must read all of it,
# whatever the tests before it read.
my $lines = 0;
$lines++ while <Seeder::DATA>;
is($lines, $Seeder::DATA_LINES, 'the preloaded DATA handle is whole');
done_testing;
