# proctor's Perl stage (minimal; see proctor-stage(7)). Preloads modules, then
# forks each job: the grandchild runs the test file in-process, the child execs
# the auditor as its parent.
use strict;
use warnings;
use JSON::PP ();
use POSIX ();
use IO::Select;

my @preload;
while (@ARGV) {
    my $arg = shift @ARGV;
    push @preload, shift @ARGV if $arg eq '--preload';
}
open(my $sock, '+<&=', $ENV{PROCTOR_STAGE_FD}) or die "no stage socket: $!";
my $lifeline = $ENV{PROCTOR_LIFELINE_FD};
delete @ENV{qw(PROCTOR_STAGE_FD PROCTOR_LIFELINE_FD)};
my $json = JSON::PP->new->canonical;
sub say_json { my $m = shift; my $t = delete $m->{type}; my $s = $json->encode($m); $s =~ s/^\{/{"type":"$t",/; $s =~ s/,\}$/}/; syswrite($sock, "$s\n"); }

for my $m (@preload) {
    (my $f = "$m.pm") =~ s{::}{/}g;
    unless (eval { require $f; 1 }) {
        (my $e = $@) =~ s/\s+/ /g;
        say_json({type => 'error', message => "unable to preload $m: $e"});
        exit 1;
    }
}
say_json({type => 'ready', pid => $$, preloaded => [map { {file => $INC{$_}, mtime => (stat $INC{$_})[9] || 0} } grep { defined $INC{$_} } sort keys %INC]});

my %ENV0 = %ENV;
my %jobs;
my $sel = IO::Select->new($sock);
my $buf = '';
$^F = 1000;
while (1) {
    while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
        my $j = delete $jobs{$pid} or next;
        my %m = (type => 'done', job => $j->[0], try => $j->[1], pid => $pid);
        if ($? & 127) { $m{signal} = $? & 127 } else { $m{status} = $? >> 8 }
        say_json(\%m);
    }
    next unless $sel->can_read(0.05);
    my $n = sysread($sock, $buf, 65536, length $buf);
    exit 0 unless $n;
    while ($buf =~ s/^([^\n]*)\n//) {
        my $msg = $json->decode($1);
        exit 0 if $msg->{type} eq 'stop';
        next unless $msg->{type} eq 'spawn';
        my $pid = fork;
        if (!defined $pid) { say_json({type => 'error', job => $msg->{job}, try => $msg->{try}, message => "unable to fork: $!"}); next }
        if ($pid) { $jobs{$pid} = [$msg->{job}, $msg->{try}]; say_json({type => 'launched', job => $msg->{job}, try => $msg->{try}, pid => $pid}); next }
        close $sock;
        pipe(my $out_r, my $out_w) or POSIX::_exit(4);
        my ($err_r, $err_w);
        if ($msg->{merge}) { ($err_r, $err_w) = ($out_r, $out_w) } else { pipe($err_r, $err_w) or POSIX::_exit(4) }
        my $g = fork;
        POSIX::_exit(4) unless defined $g;
        if (!$g) {
            setpgrp(0, 0);
            open(STDIN, '<', '/dev/null');
            open(STDOUT, '>&', $out_w); open(STDERR, '>&', $err_w);
            close $out_r; close $err_r unless $msg->{merge};
            POSIX::close($lifeline);
            %ENV = (%ENV0, %{$msg->{env} || {}});
            $0 = $msg->{file}; @ARGV = (); srand();
            if (defined &Test::Builder::new) { my $tb = Test::Builder->new; $tb->reset; $tb->output(\*STDOUT); $tb->failure_output(\*STDERR); $tb->todo_output(\*STDOUT); }
            package main;
            my $r = do "./$msg->{file}";
            if (!defined $r && $@) { print STDERR $@; exit 255 }
            exit 0;
        }
        POSIX::setpgid($g, $g);
        close $out_w; close $err_w unless $msg->{merge};
        my @a = (@{$msg->{auditor}}, '--pid', $g, '--stdout-fd', fileno($out_r), '--stderr-fd', fileno($err_r), '--lifeline-fd', $lifeline);
        { no warnings 'exec'; exec { $a[0] } @a; }
        kill 'KILL', -$g;
        POSIX::_exit(4);
    }
}
