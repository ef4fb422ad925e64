#!/usr/bin/perl
# A stand-in for `proctor audit`, for drive.pl: started by the stage with the
# test's pipes, it records what it was given and what the test did in
# DIR/audit.json, so the driver can check the stage without the Rust side.
#
# Exits 0 when the test exited 0, 1 otherwise (like a verdict).
use strict;
use warnings;

use IO::Select ();
use JSON::PP ();

my %arg;
my @argv = @ARGV;
while (@ARGV) {
    my $name = shift @ARGV;
    die "fake_auditor: unexpected argument $name\n" unless $name =~ /\A--([a-z-]+)\z/;
    $arg{$1} = shift @ARGV;
}

# The lifeline must arrive open (the stage passes it on); we only look.
my $lifeline_open = defined $arg{'lifeline-fd'} && open(my $lifeline, '<&=', $arg{'lifeline-fd'}) ? 1 : 0;

my %lines = (stdout => [], stderr => []);
my %handle_stream;
my $select = IO::Select->new;
for my $stream (qw(stdout stderr)) {
    my $fd = $arg{"$stream-fd"};
    next if $stream eq 'stderr' && $fd == $arg{'stdout-fd'};    # merged
    open my $handle, '<&=', $fd or die "fake_auditor: unable to open fd $fd: $!\n";
    $handle_stream{ fileno $handle } = [$stream, ''];
    $select->add($handle);
}
while ($select->count) {
    for my $handle ($select->can_read) {
        my $state = $handle_stream{ fileno $handle };
        my $got = sysread $handle, $state->[1], 65536, length $state->[1];
        if (!$got) {
            push @{ $lines{ $state->[0] } }, $state->[1] if length $state->[1];
            $select->remove($handle);
            next;
        }
        push @{ $lines{ $state->[0] } }, $1 while $state->[1] =~ s/\A([^\n]*)\n//;
    }
}

my $reaped = waitpid $arg{pid}, 0;
my $status = $?;
my $record = {
    argv          => \@argv,
    reaped        => $reaped == $arg{pid} ? 1 : 0,
    exit          => $status >> 8,
    signal        => $status & 127,
    stdout        => $lines{stdout},
    stderr        => $lines{stderr},
    same_fd       => $arg{'stdout-fd'} == $arg{'stderr-fd'} ? 1 : 0,
    lifeline_open => $lifeline_open,
};
open my $out, '>', "$arg{dir}/audit.json" or die "fake_auditor: unable to write $arg{dir}/audit.json: $!\n";
print $out JSON::PP->new->canonical->encode($record);
close $out or die "fake_auditor: unable to write $arg{dir}/audit.json: $!\n";
exit($status == 0 ? 0 : 1);
