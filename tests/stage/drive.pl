#!/usr/bin/perl
# Drives src/stage/perl_stage.pl the way the runner does, without the Rust
# side: a socketpair for the protocol, a lifeline pipe, `spawn` messages whose
# auditor is tests/stage/fake_auditor.pl (it writes what the test did to
# DIR/audit.json). Checks the protocol and each test's clean slate, then
# times preloaded spawns against plain perl start-up.
#
# Run from anywhere: perl tests/stage/drive.pl
# Last line: "N passed, N failed"; exit status 1 if any check failed.
use strict;
use warnings;

use Cwd ();
use Fcntl qw(F_GETFD F_SETFD FD_CLOEXEC);
use File::Basename ();
use File::Path ();
use File::Temp ();
use IO::Handle ();
use IO::Select ();
use JSON::PP ();
use POSIX ();
use Socket qw(AF_UNIX SOCK_STREAM PF_UNSPEC);
use Time::HiRes ();

my $HERE     = Cwd::abs_path(File::Basename::dirname(__FILE__));
my $STAGE    = Cwd::abs_path("$HERE/../../src/stage/perl_stage.pl");
my $AUDITOR  = ["$^X", "$HERE/fake_auditor.pl"];
my $TIMEOUT  = 30;    # generous: only a hang should ever reach it
my $SCRATCH  = File::Temp::tempdir('proctor-stage-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $JSON     = JSON::PP->new->canonical;

my ($passed, $failed) = (0, 0);

sub check {
    my ($ok, $name, $got) = @_;
    if ($ok) {
        $passed++;
        print "ok - $name\n";
    }
    else {
        $failed++;
        print "FAIL - $name\n";
        print "    got: ", (ref $got ? $JSON->encode($got) : defined $got ? $got : 'undef'), "\n"
            if @_ > 2;
    }
    return $ok;
}

# --- a fake runner -----------------------------------------------------------

# Starts the stage with the given preloads; returns a handle on it.
sub start_stage {
    my (@preload) = @_;
    socketpair my $ours, my $theirs, AF_UNIX, SOCK_STREAM, PF_UNSPEC or die "socketpair: $!";
    pipe my $lifeline_read, my $lifeline_write or die "pipe: $!";
    my $stderr_file = "$SCRATCH/stage-stderr-" . scalar(my @n = glob "$SCRATCH/stage-stderr-*");

    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        close $ours;
        close $lifeline_write;
        for my $handle ($theirs, $lifeline_read) {
            my $flags = fcntl $handle, F_GETFD, 0;
            fcntl $handle, F_SETFD, $flags & ~FD_CLOEXEC;
        }
        $ENV{PROCTOR_STAGE_FD}    = fileno $theirs;
        $ENV{PROCTOR_LIFELINE_FD} = fileno $lifeline_read;
        $ENV{PERL5LIB} = join ':', "$SCRATCH/lib", grep { defined } $ENV{PERL5LIB};
        $ENV{HARNESS_ACTIVE} = 1;
        open STDIN, '<', '/dev/null' or die;
        open STDOUT, '>', $stderr_file or die;
        open STDERR, '>&', \*STDOUT or die;
        chdir $HERE or die;
        exec $^X, $STAGE, map { ('--preload', $_) } @preload;
        die "exec: $!";
    }
    close $theirs;
    close $lifeline_read;
    return {
        pid           => $pid,
        socket        => $ours,
        lifeline      => $lifeline_write,
        stderr_file   => $stderr_file,
        pending       => '',
        messages      => [],    # [decoded, raw line], not yet taken
        stage_fd      => undef,
    };
}

# Next message that $match accepts (all of them if no $match); undef on
# timeout or EOF.
sub take_message {
    my ($stage, $match) = @_;
    $match ||= sub { 1 };
    my $deadline = Time::HiRes::time() + $TIMEOUT;
    while (1) {
        for my $i (0 .. $#{ $stage->{messages} }) {
            my $message = $stage->{messages}[$i];
            if ($match->($message->[0])) {
                splice @{ $stage->{messages} }, $i, 1;
                return wantarray ? @$message : $message->[0];
            }
        }
        my $left = $deadline - Time::HiRes::time();
        return if $left <= 0;
        return unless IO::Select->new($stage->{socket})->can_read($left);
        my $got = sysread $stage->{socket}, $stage->{pending}, 65536, length $stage->{pending};
        return unless $got;
        while ($stage->{pending} =~ s/\A([^\n]*)\n//) {
            my $raw = $1;
            my $decoded = eval { JSON::PP->new->utf8->decode($raw) } || { type => 'unparsable', raw => $raw };
            push @{ $stage->{messages} }, [$decoded, $raw];
        }
    }
}

sub send_line {
    my ($stage, $line) = @_;
    syswrite $stage->{socket}, "$line\n" or die "write to stage: $!";
}

my $job_number = 0;

# Sends a spawn for FILE (relative to tests/stage); returns its job number and dir.
sub send_spawn {
    my ($stage, $file, %options) = @_;
    my $job = ++$job_number;
    my $dir = "$SCRATCH/jobs/$job-1";
    File::Path::make_path("$dir/tmp");
    my %env = (TMPDIR => "$dir/tmp", %{ $options{env} || {} });
    send_line($stage, $JSON->encode({
        type    => 'spawn',
        job     => $job,
        try     => 1,
        file    => $file,
        dir     => $dir,
        merge   => $options{merge} ? JSON::PP::true : JSON::PP::false,
        env     => \%env,
        auditor => $options{auditor} || [@$AUDITOR, '--file', $file, '--dir', $dir],
    }));
    return ($job, $dir);
}

# Waits for the job's launched and done; returns (launched, done, audit record).
sub finish_job {
    my ($stage, $job, $dir) = @_;
    my $launched = take_message($stage, sub { $_[0]{type} eq 'launched' && $_[0]{job} == $job });
    my $done     = take_message($stage, sub { $_[0]{type} =~ /\A(?:done|error)\z/ && ($_[0]{job} || 0) == $job });
    my $audit;
    if (open my $in, '<', "$dir/audit.json") {
        local $/;
        $audit = $JSON->decode(<$in>);
    }
    return ($launched, $done, $audit || { stdout => [], stderr => [] });
}

sub run_job {
    my ($stage, $file, %options) = @_;
    return finish_job($stage, send_spawn($stage, $file, %options));
}

# "# state KEY=VALUE" lines of t/state.t as a hash.
sub state_of {
    my ($audit) = @_;
    return { map { /\A# state ([^=]+)=(.*)\z/ ? ($1 => $2) : () } @{ $audit->{stdout} } };
}

sub has_line {
    my ($lines, $pattern) = @_;
    return scalar grep { $_ =~ $pattern } @$lines;
}

sub wait_exit {
    my ($pid, $seconds) = @_;
    my $deadline = Time::HiRes::time() + $seconds;
    while (Time::HiRes::time() < $deadline) {
        my $reaped = waitpid $pid, POSIX::WNOHANG();
        return $? if $reaped == $pid;
        Time::HiRes::sleep(0.02);
    }
    return undef;
}

sub slurp {
    my ($path) = @_;
    open my $in, '<', $path or return '';
    local $/;
    return scalar <$in>;
}

# A preloaded module that seeds rand at load time and carries a __DATA__
# larger than one read buffer: without a fresh srand and a reopened DATA per
# test, forked tests would share both.
sub write_seeder {
    File::Path::make_path("$SCRATCH/lib");
    open my $out, '>', "$SCRATCH/lib/Seeder.pm" or die "Seeder.pm: $!";
    print $out "package Seeder;\nour \$DATA_LINES = 5000;\nour \$AT_LOAD = rand();\n1;\n__DATA__\n";
    print $out "line $_ of the preloaded DATA section\n" for 1 .. 5000;
    close $out or die "Seeder.pm: $!";
}

# --- the checks --------------------------------------------------------------

write_seeder();

my $stage = start_stage('Test::More', 'Seeder');
my ($ready, $ready_raw) = take_message($stage);
check($ready && $ready->{type} eq 'ready', 'the stage reports ready', $ready);
check(defined $ready_raw && $ready_raw =~ /\A\{"type":"ready"/, '"type" is the first key', $ready_raw);
check($ready && $ready->{pid} == $stage->{pid}, 'ready names the stage pid', $ready && $ready->{pid});
my ($more) = grep { $_->{module} eq 'Test::More' } @{ $ready->{preloaded} || [] };
check($more && $more->{file} =~ m{/Test/More\.pm\z} && $more->{mtime} > 0,
    'ready lists Test/More.pm with its mtime', $more);
check(scalar(grep { $_->{module} eq 'Seeder' && $_->{file} eq "$SCRATCH/lib/Seeder.pm" } @{ $ready->{preloaded} || [] }),
    'ready lists the project module from PERL5LIB');
check(!grep({ !defined $_->{file} || $_->{mtime} !~ /\A[0-9]+\z/ } @{ $ready->{preloaded} || [] }),
    'every preloaded entry has a file and an integer mtime');

{
    my ($launched, $done, $audit) = run_job($stage, 't/pass.t');
    check($launched && $launched->{pid} > 0 && $launched->{try} == 1, 'launched carries the job, try and auditor pid', $launched);
    check($done && $done->{type} eq 'done' && $done->{pid} == $launched->{pid} && $done->{status} == 0,
        'done reports the auditor pid and its status', $done);
    check($audit->{exit} == 0, 'a passing test exits 0', $audit->{exit});
    check(has_line($audit->{stdout}, qr/\A1\.\.2\z/) && has_line($audit->{stdout}, qr/\Aok 1 - first\z/)
        && has_line($audit->{stdout}, qr/\Aok 2 - second\z/), 'its TAP reaches the stdout pipe', $audit->{stdout});
    check(!@{ $audit->{stderr} }, 'and nothing reaches stderr', $audit->{stderr});
    check($audit->{reaped}, 'the auditor is the test\'s parent (it could reap it)');
    check($audit->{lifeline_open}, 'the lifeline reaches the auditor open');
    check(!$audit->{same_fd}, 'unmerged jobs get two pipes');
    my %args = @{ $audit->{argv} }[2 .. $#{ $audit->{argv} }];
    check(defined $args{'--pid'} && $args{'--stdout-fd'} && $args{'--stderr-fd'} && defined $args{'--lifeline-fd'},
        'the auditor gets --pid, --stdout-fd, --stderr-fd and --lifeline-fd after its own arguments', $audit->{argv});
}

{
    my (undef, $done, $audit) = run_job($stage, 't/fail.t');
    check($audit->{exit} == 1, 'a failing test exits with its failure count', $audit->{exit});
    check($done->{status} == 1, 'and its auditor\'s status reaches done', $done);
    check(has_line($audit->{stdout}, qr/\Anot ok 1 - one is two\z/), 'not ok on stdout', $audit->{stdout});
    check(has_line($audit->{stderr}, qr/\A#\s+Failed test 'one is two'/), 'diagnostics on stderr', $audit->{stderr});
}

{
    my (undef, undef, $audit) = run_job($stage, 't/die.t');
    check($audit->{exit} == 255, 'a dying test exits 255', $audit->{exit});
    check(has_line($audit->{stderr}, qr{\Aboom at t/die\.t line 3\.\z}), 'with the message on stderr', $audit->{stderr});
}

{
    my (undef, undef, $audit) = run_job($stage, 't/skip.t');
    check($audit->{exit} == 0, 'plan skip_all exits 0', $audit->{exit});
    check(has_line($audit->{stdout}, qr/\A1\.\.0 # SKIP no reason at all\z/), 'with 1..0 # SKIP', $audit->{stdout});
}

{
    my (undef, undef, $audit) = run_job($stage, 't/fork.t');
    check($audit->{exit} == 0 && !has_line($audit->{stdout}, qr/\Anot ok/),
        'a test and its children share a process group of their own', $audit);
}

{
    my (undef, undef, $audit) = run_job($stage, 't/compile_error.t');
    check($audit->{exit} == 255 && has_line($audit->{stderr}, qr/\ABEGIN failed--compilation aborted at t\/compile_error\.t line 3\.\z/),
        'a test that fails to compile exits 255 with perl\'s message', $audit);
}

{
    my ($job, $dir) = send_spawn($stage, 't/exit.t');
    my (undef, undef, $audit) = finish_job($stage, $job, $dir);
    check($audit->{exit} == 3, 'an END block sets the exit status', $audit->{exit});
    check(slurp("$dir/tmp/unflushed") eq 'flushed at exit', 'handles left open are flushed at exit',
        slurp("$dir/tmp/unflushed"));
}

{
    my ($job, $dir) = send_spawn($stage, 't/pipe.t');
    my (undef, undef, $audit) = finish_job($stage, $job, $dir);
    check($audit->{exit} == 0 && slurp("$dir/tmp/piped") eq "waited for\n",
        'a piped open is waited for at exit', [$audit, slurp("$dir/tmp/piped")]);
}

{
    my (undef, undef, $audit) = run_job($stage, "$HERE/t/state.t", env => { HARNESS_ACTIVE => undef });
    my $state = state_of($audit);
    check($audit->{exit} == 0 && ($state->{file} || '') eq "$HERE/t/state.t" && ($state->{zero} || '') eq "$HERE/t/state.t",
        'an absolute file name is kept as given', $state);
    check(($state->{harness_active} || '') eq 'undef', 'a null in the spawn\'s env removes the variable', $state->{harness_active});
}

{
    my (undef, undef, $audit) = run_job($stage, 't/missing.t');
    check($audit->{exit} == 2 && has_line($audit->{stderr}, qr/\ACan't open perl script "t\/missing\.t": No such file/),
        'a file that is not there exits 2, as perl does', $audit);
}

{
    my (undef, undef, $warn) = run_job($stage, 't/warn.t');
    check($warn->{exit} == 0, '-w on the #! line turns warnings on', $warn);
}

{
    my (undef, undef, $first) = run_job($stage, 't/data.t');
    my (undef, undef, $second) = run_job($stage, 't/data.t');
    check($first->{exit} == 0 && $second->{exit} == 0, 'each test reads a preloaded module\'s DATA from its start',
        [$first->{stdout}, $second->{stdout}]);
}

# The clean slate, one test after another: the first dirties everything.
my $stage_inode    = (stat $stage->{socket})[1];     # the peer end shares nothing, so compare kinds below
my $lifeline_inode = (stat $stage->{lifeline})[1];
my @sequential;
for (1 .. 2) {
    my ($job, $dir) = send_spawn($stage, 't/state.t');
    my (undef, undef, $audit) = finish_job($stage, $job, $dir);
    push @sequential, { dir => $dir, audit => $audit, state => state_of($audit) };
}
for my $n (0, 1) {
    my $run   = $sequential[$n];
    my $state = $run->{state};
    my $which = $n ? 'second' : 'first';
    check($run->{audit}{exit} == 0, "$which state.t passes", $run->{audit});
    check(($state->{file} || '') eq 't/state.t', "__FILE__ is the file as given ($which)", $state->{file});
    check(($state->{caller} || '') eq 't/state.t', "caller names the file ($which)", $state->{caller});
    check(($state->{begin} || '') eq '1', "BEGIN blocks run ($which)", $state->{begin});
    check(($state->{zero} || '') eq 't/state.t', "\$0 is the file ($which)", $state->{zero});
    check((defined $state->{argv} ? $state->{argv} : '') eq '0', "\@ARGV is empty ($which)", $state->{argv});
    check(($state->{cwd} || '') eq $HERE, "the working directory is the stage's ($which)", $state->{cwd});
    check(($state->{tmpdir} || '') eq "$run->{dir}/tmp", "TMPDIR is the spawn's ($which)", $state->{tmpdir});
    check(($state->{harness_active} || '') eq '1', "the stage's environment reaches the test ($which)", $state->{harness_active});
    check(($state->{leaked_env} || '') eq 'undef', "%ENV starts clean ($which)", $state->{leaked_env});
    check(($state->{leaked_global} || '') eq 'undef', "globals start clean ($which)", $state->{leaked_global});
    check(($state->{stage_fd_env} || '') eq 'undef', "PROCTOR_STAGE_FD is not in the test's environment ($which)");
    check((defined $state->{warnings} ? $state->{warnings} : '') eq '0', "no -w, no \$^W ($which)", $state->{warnings});
    check(($state->{pgrp_is_self} || '') eq '1', "the test leads its own process group ($which)");
    check(($state->{sig_chld} || '') eq 'undef' && ($state->{sig_pipe} || '') eq 'undef',
        "the stage's signal handlers are gone ($which)", [$state->{sig_chld}, $state->{sig_pipe}]);
    check(has_line($run->{audit}{stdout}, qr/\Aok 1 - globals/) && has_line($run->{audit}{stdout}, qr/\A1\.\.3\z/),
        "Test::Builder counts start at 1 ($which)", $run->{audit}{stdout});
    my @fds = split /,/, $state->{fds} || '';
    check(!grep({ /\Asocket:/ || $_ eq "pipe:[$lifeline_inode]" } @fds),
        "the protocol socket and the lifeline are closed in the test ($which)", \@fds);
}
check(defined $sequential[0]{state}{rand} && $sequential[0]{state}{rand} ne $sequential[1]{state}{rand},
    'srand: tests do not repeat the stage\'s random sequence', [map { $_->{state}{rand} } @sequential]);

# The same, at the same time: both sleep while dirty.
{
    my @jobs = map { [send_spawn($stage, 't/state.t', env => { SLEEP => 0.5 })] } 1 .. 2;
    my @runs = map { my (undef, undef, $audit) = finish_job($stage, @$_); { dir => $_->[1], audit => $audit, state => state_of($audit) } } @jobs;
    check(!grep({ $_->{audit}{exit} != 0 } @runs), 'two concurrent tests keep their own globals, environment and directory',
        [map { $_->{audit}{stdout} } @runs]);
    check(!grep({ ($_->{state}{leaked_env} || '') ne 'undef' || ($_->{state}{leaked_global} || '') ne 'undef' } @runs),
        'and neither sees the other\'s changes');
    check(!grep({ ($_->{state}{tmpdir} || '') ne "$_->{dir}/tmp" } @runs), 'each has its own TMPDIR');
}

# Many at once: every spawn gets its launched and its done, none lost.
{
    my @jobs = map { [send_spawn($stage, 't/trivial.t')] } 1 .. 20;
    my @done = map { (finish_job($stage, @$_))[1] } @jobs;
    check(!grep({ !$_ || $_->{type} ne 'done' || $_->{status} != 0 } @done), 'twenty spawns at once all end in done, status 0',
        [grep { !$_ || $_->{status} } @done]);
}

{
    my (undef, undef, $audit) = run_job($stage, 't/fail.t', merge => 1);
    check($audit->{same_fd}, 'merge: the auditor gets one fd for both streams');
    check(has_line($audit->{stdout}, qr/\Anot ok 1/) && has_line($audit->{stdout}, qr/\A#\s+Failed test/)
        && !@{ $audit->{stderr} }, 'merge: stderr goes into the stdout pipe', $audit);
}

# Protocol errors: answered, and the stage carries on.
{
    send_line($stage, 'this is not json');
    my $error = take_message($stage, sub { $_[0]{type} eq 'error' });
    check($error && !exists $error->{job} && $error->{message} =~ /\Aunable to read a message/,
        'a malformed line gets an error without a job', $error);

    send_line($stage, $JSON->encode({ type => 'spawn', job => 999, try => 2, auditor => $AUDITOR }));
    $error = take_message($stage, sub { $_[0]{type} eq 'error' });
    check($error && $error->{job} == 999 && $error->{try} == 2 && $error->{message} =~ /"file"/,
        'a spawn without a file gets an error naming its job', $error);

    my (undef, $done) = run_job($stage, 't/trivial.t', auditor => ['/nonexistent/auditor']);
    check($done && $done->{type} eq 'done' && $done->{status} == 4, 'an auditor that cannot exec ends with status 4', $done);
    check(slurp($stage->{stderr_file}) =~ m{\Aproctor stage: unable to exec /nonexistent/auditor: No such file or directory\n\z},
        'the stage says why on stderr, and says nothing else', slurp($stage->{stderr_file}));

    my (undef, undef, $audit) = run_job($stage, 't/pass.t');
    check($audit->{exit} == 0, 'the stage still runs tests after all that', $audit);
}

# stop: the running job finishes and is reported, then the stage exits 0.
{
    my ($job, $dir) = send_spawn($stage, 't/state.t', env => { SLEEP => 0.3 });
    send_line($stage, '{"type":"stop"}');
    my (undef, $done, $audit) = finish_job($stage, $job, $dir);
    check($done && $done->{type} eq 'done' && $audit->{exit} == 0, 'stop lets a running job finish and reports it', $done);
    my $status = wait_exit($stage->{pid}, $TIMEOUT);
    check(defined $status && $status == 0, 'then the stage exits 0', $status);
}

{
    my $broken = start_stage('No::Such::Module');
    my ($error, $raw) = take_message($broken);
    check($error && $error->{type} eq 'error' && !exists $error->{job}
        && $error->{message} =~ m{\Aunable to preload No::Such::Module: Can't locate No/Such/Module\.pm in \@INC}
        && $error->{message} !~ /\n/, 'a failing preload is an error message, on one line', $error);
    my $status = wait_exit($broken->{pid}, $TIMEOUT);
    check(defined $status && $status == 1 << 8, 'and the stage exits 1', $status);
}

{
    my $orphan = start_stage('Test::More');
    my $ready_again = take_message($orphan);
    close $orphan->{socket};
    my $status = wait_exit($orphan->{pid}, 10);
    check($ready_again && defined $status, 'EOF on the socket: the stage exits at once', $status);
}

{
    my $bare = start_stage();
    my $bare_ready = take_message($bare);
    my (undef, undef, $audit) = run_job($bare, 't/pass.t');
    check($audit->{exit} == 0 && has_line($audit->{stdout}, qr/\Aok 2/), 'a stage with nothing preloaded runs tests too', $audit);
    send_line($bare, '{"type":"stop"}');
    wait_exit($bare->{pid}, $TIMEOUT);
}

# --- timing (printed, not asserted) ----------------------------------------------

{
    my $spawns = 50;
    my $timed = start_stage('Test::More');
    take_message($timed);
    my $wait_auditor = ["$^X", "$HERE/wait_auditor.pl"];
    my $started = Time::HiRes::time();
    for (1 .. $spawns) {
        my ($job, $dir) = send_spawn($timed, 't/trivial.t', auditor => $wait_auditor);
        finish_job($timed, $job, $dir);
    }
    my $per_spawn = (Time::HiRes::time() - $started) / $spawns;
    send_line($timed, '{"type":"stop"}');
    wait_exit($timed->{pid}, $TIMEOUT);

    my $time_command = sub {
        my (@command) = @_;
        my $start = Time::HiRes::time();
        for (1 .. 20) {
            system { $command[0] } @command;
        }
        return (Time::HiRes::time() - $start) / 20;
    };
    chdir $HERE or die;
    my $bare_perl   = $time_command->($^X, '-e1');
    my $perl_tm     = $time_command->($^X, '-MTest::More', '-e1');
    my $perl_file   = do { open my $null, '>', '/dev/null'; local *STDOUT = $null;
                           $time_command->('/bin/sh', '-c', "exec $^X t/trivial.t >/dev/null") };
    printf "# timing: preloaded spawn (trivial.t, spawn to done, through a perl stand-in auditor): %.1f ms over %d spawns\n",
        $per_spawn * 1000, $spawns;
    printf "# timing: perl -e1 (the stand-in auditor's floor): %.1f ms; perl -MTest::More -e1: %.1f ms; perl t/trivial.t: %.1f ms\n",
        $bare_perl * 1000, $perl_tm * 1000, $perl_file * 1000;
    printf "# timing: preloaded spawn minus the stand-in's perl start-up: %.1f ms\n", ($per_spawn - $bare_perl) * 1000;
}

print "$passed passed, $failed failed\n";
exit($failed ? 1 : 0);
