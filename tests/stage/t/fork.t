use strict;
use warnings;
use POSIX ();
use Test::More;

# The auditor kills the test by process group: a test and its children must
# be in a group of their own.
is(getpgrp(), $$, 'the test leads its own process group');

my $child = fork;
die "unable to fork: $!" unless defined $child;
if ($child == 0) {
    # A child's verdict goes back through its exit status, not TAP.
    POSIX::_exit(getpgrp() == getppid() ? 0 : 1);
}
waitpid $child, 0;
is($?, 0, "the test's child is in the test's group");
done_testing;
