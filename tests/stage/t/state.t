BEGIN { $main::begin_ran = 1 }
use strict;
use warnings;
use Cwd ();
use Test::More;

# Reports the per-test state as "# state KEY=VALUE" lines for drive.pl to
# compare between runs, then dirties all of it, so a leak shows in the next
# test. SLEEP makes two copies overlap when run at the same time.

sub where_am_i { my @frame = caller(0); return $frame[1] }

sub state_line {
    my ($key, $value) = @_;
    print "# state $key=", (defined $value ? $value : 'undef'), "\n";
}

state_line(file      => __FILE__);
state_line(caller    => where_am_i());
state_line(begin     => $main::begin_ran);
state_line(zero      => $0);
state_line(argv      => scalar @ARGV);
state_line(cwd       => Cwd::getcwd());
state_line(tmpdir    => $ENV{TMPDIR});
state_line(harness_active => $ENV{HARNESS_ACTIVE});
state_line(leaked_env => $ENV{PROCTOR_STAGE_LEAK});
state_line(leaked_global => $main::x);
state_line(stage_fd_env => $ENV{PROCTOR_STAGE_FD});
state_line(warnings  => $^W);
state_line(pgrp_is_self => getpgrp() == $$ ? 1 : 0);
state_line(rand      => rand());
state_line(sig_chld  => $SIG{CHLD});
state_line(sig_pipe  => $SIG{PIPE});
state_line(fds       => join ',', map { readlink($_) || '?' } glob '/proc/self/fd/*');

# Dirty everything a later test could trip over.
$main::x = $$;
$ENV{PROCTOR_STAGE_LEAK} = $$;
@ARGV = ('leak');
$0 = 'leaked';
chdir '/' or die "unable to chdir /: $!";
srand(42);

select(undef, undef, undef, $ENV{SLEEP}) if $ENV{SLEEP};

# Still this test's own values after the sleep: a concurrent test did not
# share them.
is($main::x, $$, 'globals are this process own');
is($ENV{PROCTOR_STAGE_LEAK}, $$, 'so is the environment');
is(Cwd::getcwd(), '/', 'and the working directory');
done_testing;
