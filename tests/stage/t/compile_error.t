use strict;
use warnings;
BEGIN { die "no compiling today\n" }
print "1..1\nok 1\n";
