#!/usr/bin/perl
# The cheapest auditor that still does an auditor's job (drain the test's
# output, reap it), with no modules: drive.pl times spawns through it, so the
# numbers show the stage's cost rather than the stand-in's.
my %arg;
for (my $i = 0; $i < $#ARGV; $i++) {
    $arg{ $ARGV[$i] } = $ARGV[$i + 1] if $ARGV[$i] =~ /\A--/;
}
my @fds = ($arg{'--stdout-fd'});
push @fds, $arg{'--stderr-fd'} if $arg{'--stderr-fd'} != $arg{'--stdout-fd'};
for my $fd (@fds) {
    open my $handle, '<&=', $fd or die "wait_auditor: unable to open fd $fd: $!\n";
    1 while sysread $handle, my $chunk, 65536;
}
waitpid $arg{'--pid'}, 0;
exit($? == 0 ? 0 : 1);
