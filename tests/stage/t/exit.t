use strict;
use warnings;

# How the test ends: with the status its END blocks leave, and with what
# perl flushes at exit (a handle in a package variable, never closed).
open our $unflushed, '>', "$ENV{TMPDIR}/unflushed" or die "unable to write: $!";
print $unflushed 'flushed at exit';
print "1..1\nok 1 - ends through its END block\n";
END { $? = 3 }
