use strict;
use warnings;

# A piped open's process is waited for at exit, when its handle is closed:
# it has written its file by the time the test's exit is seen.
my @reader = ($^X, '-e', 'my $in = <STDIN>; select undef, undef, undef, 0.3; open my $out, ">", $ARGV[0] or die; print $out $in', "$ENV{TMPDIR}/piped");
open our $pipe, '|-', @reader or die "unable to start the reader: $!";
print $pipe "waited for\n";
print "1..1\nok 1 - leaves a process reading its pipe\n";
