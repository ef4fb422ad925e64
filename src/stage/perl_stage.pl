#!/usr/bin/perl
# proctor's preloading Perl stage.
#
# Owns: loading the --preload modules once, then, for each `spawn` from the
# runner, forking the auditor-to-be, which forks the test and execs the
# auditor; the test runs the file in-process on a clean slate. The protocol
# (JSON lines over the socket in PROCTOR_STAGE_FD) is in man/proctor-stage.7.
# Two processes: the stage speaks the protocol and never forks; its forker
# forks the auditors-to-be and reaps them (see start_forker).
#
# Sibling mode (--clone-syscall N): the stage is a standing auditor's own,
# and each test is forked as the auditor's child (clone with CLONE_PARENT),
# on pipes the auditor made; no forker, no auditor-to-be, no exec. See the
# loop below %stage and the sibling mode section.
#
# Cost model: every fork write-protects all of the forking process's pages,
# and on this kind of host each page written afterwards is a copy-on-write
# fault of a few microseconds, in the forking process and its children
# alike. Whatever runs in the forker, the auditor-to-be or the test before
# the file does is paid per job in faults: keep it short.
#
# Must not touch: the lifeline fd (the runner's; only passed on to auditors),
# the terminal (stdout and stderr are the runner's stderr: errors go in
# protocol messages), or anything the runner decides (retries, timeouts,
# which files may be preloaded).
#
# Written for Perl 5.14 and later, core modules only: the stage runs under
# whatever perl the project tests with. Its subs live in their own package so
# a test file defining `sub main` or `sub run_test` cannot clobber them.
package Proctor::Stage;

use strict;
use warnings;

# Nothing beyond what Test::More loads anyway (Fcntl, POSIX): every page the
# stage holds is copied (page tables) on each fork, and every page it writes
# after a fork is a copy-on-write fault. The protocol's JSON is read and
# written by the few subs at the end, not JSON::PP.
use Fcntl qw(F_GETFD F_SETFD FD_CLOEXEC F_GETFL F_SETFL O_NONBLOCK);
use POSIX ();

# How long the loop sleeps at most when nothing happens. SIGCHLD wakes it
# sooner through the self-pipe; this only bounds a lost wake-up.
my $IDLE_SECONDS = 1;

# The auditor's exit status when the stage could not start it (the runner
# reads it as "the auditor failed", never as a test verdict).
my $AUDITOR_UNSTARTED = 4;

# clone(2)'s flags in sibling mode: CLONE_PARENT, for a child whose parent
# is its parent's parent, and SIGCHLD, so that it signals its end as a
# fork's child does. A number, as the kernel must get it.
my $CLONE_FLAGS = 0x00008000 | POSIX::SIGCHLD();

# madvise(2)'s advice to back a range with huge pages now (collapse_heap),
# and their size.
my $MADV_COLLAPSE = 25;
my $HUGE_PAGE = 2 * 1024 * 1024;

# How much of a test file run_test reads first (for its #! line), and how
# much each further read takes looking for "__END__" (see mentions_end):
# small, so the pages they write (and copy) are few.
my $HEAD_BYTES = 512;
my $CHUNK_BYTES = 8192;

# State captured once, at start-up and after preloading, that every test
# starts from.
my %stage = (
    start_dir   => undef,   # chdir back here in each test
    socket      => undef,   # protocol socket (PROCTOR_STAGE_FD)
    lifeline    => undef,   # runner's lifeline read end, passed to auditors
    clone       => 0,       # sibling mode: the clone(2) syscall number
    parent      => 0,       #   the auditor, whose pipes a test opens
    inbox       => '',      #   what came from the auditor, not yet read
    test        => undef,   #   the test to fork: { spawn => the spawn }
    source      => undef,   # in a test: its file, open, for the @INC hook
    source_file => undef,   #   and the name the hook answers to
    end         => undef,   #   a file compiled through watch_for_end: where
                            #   the lexer stopped, and a copy of the file
    fd_dir      => '',      #   /proc/<auditor>/fd/, where a test finds its pipes
    madvise     => 0,       # the madvise(2) syscall number, to collapse the heap
    fcntl       => 0,       # the fcntl(2) syscall number, for close-on-exec by number
    commands    => undef,   # stage to forker: the spawns to run
    results     => undef,   # forker to stage: launched, error, done
    stage_pid   => undef,   # in the forker: its parent, the stage
    wake_read   => undef,   # forker's self-pipe: SIGCHLD writes, its loop reads
    wake_write  => undef,
    data_marks  => [],      # [package, file, offset] of preloaded DATA handles
    t2_preload  => 0,       # whether we put Test2 in preload mode
    t2          => undef,   # Test2 as the stage set it up (prepare_test2)
    fresh_signals => {},    # %SIG entries a fresh perl sets (FPE => 'IGNORE')
    signals     => [],      # %SIG names not at their default in the stage
    last_end    => 0,       # whether our END block is the last to run
    record_dir  => undef,   # --record-modules: where each test reports what it loaded
    record_base => {},      #   %INC before preloading: the stage's own, not reported
    project_dirs => [],     #   --project-dir: a module from under one is the project's
    test_pid    => 0,       #   the test process (its children do not report)
);

# --record-modules: each file a require looked for, in order, the stage's
# preloads first (note_require).
my @required;

# Set in the test process only: the END block below ends it.
my $in_test = 0;

# Compiled with the stage, before any preloaded module's END block, so it
# runs after all of them (and after the test's own): the test's last word.
END { report_modules() if $in_test && $stage{record_dir}; finish_test() if $in_test }

# Auditors started and not yet reaped: pid => [job, try].
my %auditors;

# The keys whose values the protocol sends as numbers; every other value is
# a string (or raw_json()).
my %NUMBER_KEY = map { $_ => 1 } qw(job try pid status signal mtime);

# JSON string escapes, written and read.
my %ESCAPE = ('"' => '\\"', '\\' => '\\\\', "\n" => '\\n', "\r" => '\\r', "\t" => '\\t', "\f" => '\\f', "\b" => '\\b');

my %UNESCAPE = ('"' => '"', '\\' => '\\', '/' => '/', b => "\b", f => "\f", n => "\n", r => "\r", t => "\t");

my $test = run_stage();
# Sibling mode: the stage's loop is here, at the file's top level, so that a
# test forked in it has no stage sub to return through. (Every frame left
# frees variables into pages the test shares with the stage: a copy-on-write
# fault each, some hundred microseconds in all.)
# Once the test is forked the stage writes next to nothing until its next
# spawn, which comes only after that test has ended: the test opens its
# pipes and says `launched` itself, and the spawn stays in %stage, not in a
# variable freed at the end of the loop.
while (!$test) {
    next_sibling_spawn() or next;
    my $pid = syscall($stage{clone}, $CLONE_FLAGS, 0, 0, 0, 0);
    # run_test never returns: the test leaves no loop or scope behind.
    run_test($stage{test}) if $pid == 0;
    sibling_unforked($!) if $pid < 0;
}
run_test($test);    # only a test process gets here

# --- the stage ---------------------------------------------------------------

# Runs the stage; exits in the stage, returns only in a freshly forked test
# process, with what it needs to run its file.
sub run_stage {
    # What a fresh perl has (it ignores SIGFPE, say): a test keeps that.
    $stage{fresh_signals} = { map { $_ => "$SIG{$_}" } grep { $_ ne 'ZERO' && defined $SIG{$_} } keys %SIG };
    my @preload = parse_arguments(@ARGV);
    @ARGV = ();

    open_protocol_fds();
    $stage{start_dir} = POSIX::getcwd();

    share_test_more_keys();
    start_recording_requires() if $stage{record_dir};
    preload_modules(@preload);
    capture_start_state();
    prepare_test2();
    # Every test's STDOUT and STDERR are unbuffered, STDOUT selected: done
    # once, here, as the flags stay with the handles when a test reopens
    # them on its pipes (or puts its pipes under them).
    select STDERR; $| = 1;
    select STDOUT; $| = 1;
    # A write to a gone runner must be an error we see, not a silent death.
    # (A stage of one auditor's own may die of it: with the auditor gone,
    # there is no one to tell.)
    $SIG{PIPE} = 'IGNORE' unless $stage{clone};
    $stage{last_end} = our_end_block_runs_last();

    if ($stage{clone}) {
        $stage{parent} = getppid();
        $stage{fd_dir} = "/proc/$stage{parent}/fd/";
        capture_signals();
        my $ready = message_line(type => 'ready', pid => 0 + $$, preloaded => raw_json(preloaded_files_json()));
        # Last: a page the stage writes while a child of its own lives (the
        # one that looked at END blocks) is split out of its huge page.
        collapse_heap();
        write_all($stage{socket}, $ready) or leave(0);
        return undef;    # the loop at the top forks the tests
    }

    collapse_heap();
    my $test = start_forker();
    return $test if $test;    # a test process, forked by the forker

    send_message(
        type      => 'ready',
        pid       => 0 + $$,
        preloaded => raw_json(preloaded_files_json()),
    );

    return serve();
}

# A hash key is a string perl shares, with a count that every new entry under
# that key raises: a write to wherever the string was made. Test::More's
# import and every assertion make entries under the same few dozen keys (its
# exports in main::, Test2's events, facets and contexts), and a test would
# copy a page for each of them, as scattered as the modules that made them.
# Made here, before anything is preloaded, they sit side by side: a test
# copies a page or two instead. (Other keys, or another version's, only miss
# out.)
our %SHARED_KEYS;
sub share_test_more_keys {
    @SHARED_KEYS{qw(
        ok use_ok require_ok is isnt like unlike is_deeply cmp_ok skip todo
        todo_skip pass fail eq_array eq_hash eq_set $TODO plan done_testing
        can_ok isa_ok new_ok diag note explain subtest BAIL_OUT
        about amnesty assert buffered cid code control count debug details
        directive effective_pass eid errno errors eval_error frame
        full_caller hid hub hubs info inherit ipc max message meta name
        nested package parent pid reason stack tag terminate tid trace type
        uuid _aborted _depth _eid _formatter _is_canon _meta _passing
        _pre_filters Done_Testing Ending Exported_To Name Orig_Handles
        Original_Pid Skip_All Stack Test_Results actual_ok child_error clean
        failed handles intercept_inherit no_debug no_numbers restore
    )} = ();
}

sub parse_arguments {
    my @args = @_;
    my (@preload, @include);
    while (@args) {
        my $arg = shift @args;
        if ($arg eq '--preload' && @args) {
            push @preload, shift @args;
        }
        elsif ($arg =~ /\A--preload=(.+)\z/s) {
            push @preload, $1;
        }
        elsif ($arg =~ /\A--include=(.+)\z/s) {
            push @include, $1;
        }
        elsif ($arg =~ /\A--clone-syscall=([0-9]+)\z/) {
            $stage{clone} = 0 + $1;
        }
        elsif ($arg =~ /\A--madvise-syscall=([0-9]+)\z/) {
            $stage{madvise} = 0 + $1;
        }
        elsif ($arg =~ /\A--fcntl-syscall=([0-9]+)\z/) {
            $stage{fcntl} = 0 + $1;
        }
        elsif ($arg =~ /\A--cpu-mask=([0-9]+):((?:[0-9a-f]{2})+)\z/) {
            # The stage keeps to one CPU; each test gets these CPUs back.
            $stage{cpu_mask} = [0 + $1, pack 'H*', $2];
        }
        elsif ($arg eq '--record-modules') {
            # Beside this script, in the run directory the auditors read.
            ($stage{record_dir} = __FILE__) =~ s{/[^/]*\z}{};
        }
        elsif ($arg =~ /\A--project-dir=(.+)\z/s) {
            push @{ $stage{project_dirs} }, $1;
        }
        elsif ($arg =~ /\A--drop-env=(.+)\z/s) {
            delete $ENV{$1};    # the runner's setting for this perl's start alone
        }

        else {
            fail_to_start("unknown argument \"$arg\"");
        }
    }
    # First in @INC, in order, as PERL5LIB's directories would be.
    unshift @INC, @include;
    return @preload;
}

sub open_protocol_fds {
    my $socket_fd = $ENV{PROCTOR_STAGE_FD};
    if (!defined $socket_fd || $socket_fd !~ /\A[0-9]+\z/) {
        # No socket, nobody to tell: the runner's stderr is all there is.
        print STDERR "proctor stage: PROCTOR_STAGE_FD is not set to a file descriptor\n";
        POSIX::_exit(1);
    }
    open my $socket, '+<&=', $socket_fd or do {
        print STDERR "proctor stage: unable to open fd $socket_fd: $!\n";
        POSIX::_exit(1);
    };
    binmode $socket;
    # Nothing the stage execs may inherit the socket; auditor children
    # close it anyway, this covers whatever a preloaded module runs.
    set_close_on_exec($socket, 1);
    $stage{socket} = $socket;

    # Held open for the stage's whole life and never read: it is the
    # runner's, and closing it here would close it for the auditors.
    my $lifeline_fd = $ENV{PROCTOR_LIFELINE_FD};
    if (defined $lifeline_fd && $lifeline_fd =~ /\A[0-9]+\z/) {
        open my $lifeline, '<&=', $lifeline_fd
            or fail_to_start("unable to open the lifeline fd $lifeline_fd: $!");
        # Every auditor takes it across its exec; tests close theirs.
        set_close_on_exec($lifeline, 0);
        $stage{lifeline} = $lifeline;
    }

    # The test and the auditor get these from the stage, not from %ENV.
    delete @ENV{qw(PROCTOR_STAGE_FD PROCTOR_LIFELINE_FD)};
}

sub preload_modules {
    my @modules = @_;
    return unless @modules;

    # Test2's own preload mode keeps it from initialising (hubs, formatters
    # holding dups of the stage's stdout) while modules load; each test then
    # leaves preload mode and starts from a clean instance. Test::More loaded
    # outside this mode would have opened its output in the stage.
    local $@;
    if (eval { require Test2::API; 1 } && defined &Test2::API::test2_start_preload) {
        Test2::API::test2_start_preload();
        $stage{t2_preload} = 1;
    }

    for my $module (@modules) {
        if ($module !~ /\A[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z0-9_]+)*\z/) {
            fail_to_start("unable to preload $module: not a module name");
        }
        (my $file = "$module.pm") =~ s{::}{/}g;
        # Loaded from package main, without import, like the start of a
        # test file that uses it.
        my $loaded = eval { package main; require $file; 1 };
        fail_to_start("unable to preload $module: $@") unless $loaded;
    }
}

sub capture_start_state {
    # A preloaded module's DATA handle shares its file offset with every
    # fork: one test reading it would move it for all the others. Note where
    # each one stands so a test can reopen its own.
    for my $inc_key (sort keys %INC) {
        next unless $inc_key =~ /\.pm\z/ && defined $INC{$inc_key} && !ref $INC{$inc_key};
        (my $package = $inc_key) =~ s{\.pm\z}{};
        $package =~ s{/}{::}g;
        no strict 'refs';
        my $stash = \%{"${package}::"};
        next unless exists $stash->{DATA} && ref \$stash->{DATA} eq 'GLOB';
        my $io = *{ $stash->{DATA} }{IO};
        next unless $io && defined fileno $io;
        push @{ $stage{data_marks} }, [$package, $INC{$inc_key}, tell $io];
    }
}

# The `preloaded` array of `ready`: every file in %INC with its mtime, so the
# runner can restart the stage when one changes.
sub preloaded_files_json {
    my @entries;
    for my $inc_key (sort keys %INC) {
        my $path = $INC{$inc_key};
        next if !defined $path || ref $path;    # failed require, or an @INC hook
        my $module = $inc_key;    # "unicore/Heavy.pl" stays as it is
        $module =~ s{/}{::}g if $module =~ s{\.pm\z}{};
        my $mtime = (stat $path)[9];
        push @entries, json_object(
            module => $module,
            file   => $path,
            mtime  => defined $mtime ? 0 + $mtime : 0,
        );
    }
    return '[' . join(',', @entries) . ']';
}

sub install_signal_handlers {
    pipe my $wake_read, my $wake_write or fail_to_start("unable to make a pipe: $!");
    set_nonblocking($_) for $wake_read, $wake_write;
    @stage{qw(wake_read wake_write)} = ($wake_read, $wake_write);

    # Only a byte on the self-pipe: reaping happens in the loop, so a SIGCHLD
    # between the reap and the select still wakes the select.
    $SIG{CHLD} = sub { syswrite $stage{wake_write}, 'c' };
}

# The stage runs as two processes. Every fork write-protects all of the
# forking process's pages, and every page it writes afterwards is a
# copy-on-write fault (about 3 us here), on the way to the next job: so the
# process that speaks the protocol (decodes, checks, answers) never forks,
# and the one that forks (the forker) does nothing else. The forker is the
# auditors' parent: it reaps them and says so.

# Forks the forker. Returns nothing in the stage; in the forker it runs the
# fork loop, which returns only in a freshly forked test process.
sub start_forker {
    my $stage_pid = $$;
    pipe my $commands_read, my $commands_write or fail_to_start("unable to make a pipe: $!");
    pipe my $results_read, my $results_write or fail_to_start("unable to make a pipe: $!");
    my $pid = fork;
    fail_to_start("unable to fork: $!") unless defined $pid;
    if ($pid == 0) {
        # The forker never speaks to the runner.
        close $stage{socket};
        $stage{socket} = undef;
        close $_ for $commands_write, $results_read;
        @stage{qw(commands results)} = ($commands_read, $results_write);
        $stage{stage_pid} = $stage_pid;
        install_signal_handlers();
        capture_signals();
        return fork_loop();
    }
    close $_ for $commands_read, $results_write;
    @stage{qw(commands results)} = ($commands_write, $results_read);
    return;
}

# The stage's loop: messages from the runner, results from the forker.
sub serve {
    my ($socket, $results) = @stage{qw(socket results)};
    my $watched = '';
    vec($watched, fileno $_, 1) = 1 for $socket, $results;
    my ($pending, $replies) = ('', '');
    my $stopping = 0;
    my %running;    # "job try" of spawns the forker has, until done or error

    while (1) {
        leave(0) if $stopping && !%running;

        my $ready = select(my $readable = $watched, undef, undef, $IDLE_SECONDS);
        next if $ready <= 0;
        if (vec($readable, fileno $results, 1)) {
            my $got = sysread $results, $replies, 65536, length $replies;
            # The forker died: a stage that cannot fork is gone.
            leave(1) unless $got || (!defined $got && ($!{EINTR} || $!{EAGAIN}));
            forker_result($1, \%running) while $replies =~ s/\A([^\n]*)\n//;
        }
        next unless vec($readable, fileno $socket, 1);

        my $got = sysread $socket, $pending, 65536, length $pending;
        if (!defined $got) {
            next if $!{EINTR} || $!{EAGAIN};
            leave(0);    # the socket broke: same as the runner going away
        }
        leave(0) if $got == 0;    # EOF: the runner is gone

        while ($pending =~ s/\A([^\n]*)\n//) {
            my $line = $1;
            next if $line =~ /\A\s*\z/;
            my $message = decode_message($line) or next;
            my $type = $message->{type};
            if ($type eq 'spawn') {
                spawn($message, $stopping, \%running);
            }
            elsif ($type eq 'stop') {
                $stopping = 1;
            }
            else {
                send_message(type => 'error', message => "unknown message type \"$type\"");
            }
        }
    }
}

sub decode_message {
    my ($line) = @_;
    my $message = eval { decode_json($line) };
    if (!$message || ref $message ne 'HASH' || !defined $message->{type} || ref $message->{type}) {
        my $why = $@ ? one_line($@) : 'not an object with a "type"';
        send_message(type => 'error', message => "unable to read a message: $why");
        return undef;
    }
    return $message;
}

# Checks a spawn and hands it to the forker, as NUL-separated fields
# (nothing in them can hold a NUL: they end up in argv and the environment).
sub spawn {
    my ($message, $stopping, $running) = @_;
    return if spawn_refused($message, $stopping);

    my $env = $message->{env} || {};
    my $command = join "\0",
        @$message{qw(job try file)},
        $message->{merge} ? 1 : 0,
        $message->{cwd} // '',
        scalar(keys %$env),
        (map { defined $env->{$_} ? ("+$_", $env->{$_}) : ("-$_", '') } keys %$env),
        @{ $message->{auditor} };
    write_all($stage{commands}, pack('N', length $command) . $command) or leave(1);
    $running->{"$message->{job} $message->{try}"} = 1;
}

# Whether a spawn (either mode's) cannot be run; if so, it says why, with
# job and try when they are numbers, so even a bad spawn's error can be
# matched to its job.
sub spawn_refused {
    my ($message, $stopping) = @_;
    my $problem = $stopping ? 'the stage is stopping' : spawn_problem($message);
    return 0 unless $problem;
    my @ids = map {
        my $value = $message->{$_};
        defined $value && !ref $value && $value =~ /\A[0-9]+\z/ ? ($_ => 0 + $value) : ()
    } qw(job try);
    send_message(type => 'error', @ids, message => "unable to spawn: $problem");
    return 1;
}

sub spawn_problem {
    my ($message) = @_;
    # In sibling mode a spawn names the auditor's descriptors of the test's
    # pipes, instead of a dir and an auditor to exec.
    my $sibling = $stage{clone};
    my @fds = $sibling ? ('stdout_fd', $message->{merge} ? () : 'stderr_fd') : ();
    for my $key (qw(job try), @fds) {
        my $value = $message->{$key};
        return "\"$key\" is not a number" unless defined $value && !ref $value && $value =~ /\A[0-9]+\z/;
    }
    for my $key ('file', $sibling ? () : 'dir') {
        my $value = $message->{$key};
        return "\"$key\" is not a string" unless defined $value && !ref $value && length $value;
    }
    my $cwd = $message->{cwd};
    return '"cwd" is not a string' if defined $cwd && (ref $cwd || !length $cwd);
    my $auditor = $message->{auditor};
    return '"auditor" is not a non-empty array of strings'
        unless $sibling || (ref $auditor eq 'ARRAY' && @$auditor && !grep { !defined || ref } @$auditor);
    my $env = $message->{env};
    return '"env" is not an object' if defined $env && ref $env ne 'HASH';
    return '"env" values must be strings, {"hex":...} or null'
        if $env && grep { ref && !(ref eq 'HASH' && defined $_->{hex} && !ref $_->{hex}
            && $_->{hex} =~ /\A(?:[0-9a-fA-F]{2})*\z/) } values %$env;
    # A value that is not UTF-8 comes as hex: from here on, its bytes.
    $_ = pack 'H*', $_->{hex} for grep { ref } $env ? values %$env : ();
    return undef if $sibling;
    # The forker gets them as NUL-separated fields.
    for my $text ($message->{file}, $cwd, @$auditor, $env ? %$env : ()) {
        return 'strings must not hold NUL' if defined $text && $text =~ /\0/;
    }
    return undef;
}

# A line from the forker, as the protocol message it stands for.
sub forker_result {
    my ($line, $running) = @_;
    my ($kind, $job, $try, @rest) = split /\0/, $line, -1;
    my @ids = (job => 0 + $job, try => 0 + $try);
    if ($kind eq 'launched') {
        send_message(type => 'launched', @ids, pid => 0 + $rest[0]);
        return;
    }
    delete $running->{"$job $try"};
    if ($kind eq 'done') {
        send_message(type => 'done', @ids, pid => 0 + $rest[0], $rest[1] => 0 + $rest[2]);
    }
    else {
        send_message(type => 'error', @ids, message => $rest[0]);
    }
}

# --- sibling mode ------------------------------------------------------------

# The stage of one standing auditor, its parent: for each spawn the loop at
# the top of this file forks the test with clone(CLONE_PARENT), so the test
# is the auditor's child, as a test must be, and nothing else is forked or
# exec'd for it. The test opens the write ends of the pipes the auditor made
# (through /proc, by the auditor's descriptor numbers) and says `launched`
# itself; the auditor reaps it.
#
# Per job, whatever the stage does writes to pages it may share with a
# test: copy-on-write faults. So the spawn is read with one pattern (the
# auditor writes its keys in one order; anything else goes through the full
# decoder), and the pipes stay raw descriptors, never Perl handles.

# Reads the next spawn into $stage{test}; false when there was none to run
# (an error went back instead). Leaves when the auditor is gone.
sub next_sibling_spawn {
    my $socket = $stage{socket};
    while ($stage{inbox} !~ /\n/) {
        my $got = sysread $socket, $stage{inbox}, 65536, length $stage{inbox};
        if (!defined $got) {
            next if $!{EINTR};
            leave(0);
        }
        leave(0) if $got == 0;    # the auditor is gone
    }
    $stage{inbox} =~ s/\A([^\n]*)\n//;
    my $line = $1;
    my ($spawn, $tmp);
    # Strings without escapes only: a quote or backslash in a path is rare,
    # and the decoder below reads it.
    if ($line =~ /\A\{"type":"spawn","job":([0-9]+),"try":([0-9]+),"file":"([^"\\\x00-\x1f]*)","merge":(true|false),"env":\{"TMPDIR":"([^"\\\x00-\x1f]*)"\},"stdout_fd":([0-9]+)(?:,"stderr_fd":([0-9]+))?\}\z/) {
        # Its env is the slot's TMPDIR alone, which the stage sets (below).
        $spawn = { job => $1, try => $2, file => $3, merge => $4 eq 'true', stdout_fd => $6, stderr_fd => $7 };
        $tmp = $5;
    }
    elsif ($line =~ /\S/) {
        $spawn = decode_message($line) or return undef;
        my $type = $spawn->{type};
        leave(0) if $type eq 'stop';
        if ($type ne 'spawn') {
            send_message(type => 'error', message => "unknown message type \"$type\"");
            return undef;
        }
    }
    return undef if !$spawn || spawn_refused($spawn);
    # A slot's TMPDIR is the same for each of its tests: set here, while no
    # test of this stage lives, and taken out of the spawn's env, a test
    # finds it set and has nothing to compare or set.
    my $env = $spawn->{env};
    $tmp = delete $env->{TMPDIR} if $env && defined $env->{TMPDIR};
    $ENV{TMPDIR} = $tmp if defined $tmp && !(defined $ENV{TMPDIR} && $ENV{TMPDIR} eq $tmp);
    $stage{test} = { spawn => $spawn };
    return 1;
}

sub sibling_unforked {
    my ($why) = @_;
    my $spawn = $stage{test}{spawn};
    send_message(type => 'error', job => 0 + $spawn->{job}, try => 0 + $spawn->{try}, message => "unable to fork: $why");
}

# In the test, first: its pipes, from the auditor's descriptors (the auditor
# is its parent now), put under descriptors 1 and 2, and `launched`, which the
# auditor waits for, said on the stage's socket. A test that cannot get its
# pipes says why there and leaves.
sub take_sibling_pipes {
    my ($spawn) = @_;
    my $out = POSIX::open($stage{fd_dir} . $spawn->{stdout_fd}, POSIX::O_WRONLY());
    my $err = $spawn->{merge} || !defined $out ? $out
        : POSIX::open($stage{fd_dir} . $spawn->{stderr_fd}, POSIX::O_WRONLY());
    if (!defined $err) {
        send_message(type => 'error', job => 0 + $spawn->{job}, try => 0 + $spawn->{try},
            message => "unable to open the test's pipes in $stage{fd_dir}: $!");
        POSIX::_exit(255);
    }
    POSIX::dup2($out, 1) // die "unable to redirect stdout: $!\n";
    POSIX::dup2($err, 2) // die "unable to redirect stderr: $!\n";
    POSIX::close($out);
    POSIX::close($err) unless $spawn->{merge};
    # Job and try are digits, as the spawn was read.
    write_all($stage{socket}, qq({"type":"launched","job":$spawn->{job},"try":$spawn->{try},"pid":$$}\n))
        or POSIX::_exit(255);
}

# --- the forker ----------------------------------------------------------------

# The forker's loop: reap, then wait for a spawn or a SIGCHLD, then act.
# Returns only in a test process.
sub fork_loop {
    my ($commands, $wake) = @stage{qw(commands wake_read)};
    my $watched = '';
    vec($watched, fileno $_, 1) = 1 for $commands, $wake;
    my $pending = '';

    while (1) {
        reap_auditors();

        my $ready = select(my $readable = $watched, undef, undef, $IDLE_SECONDS);
        next if $ready <= 0;    # timeout, or EINTR (a SIGCHLD): reap again
        if (vec($readable, fileno $wake, 1)) {
            1 while sysread $wake, my $drained, 4096;
        }
        next unless vec($readable, fileno $commands, 1);

        my $got = sysread $commands, $pending, 65536, length $pending;
        if (!defined $got) {
            next if $!{EINTR} || $!{EAGAIN};
            leave(0);
        }
        leave(0) if $got == 0;    # the stage is gone: its auditors live on

        while (length $pending >= 4) {
            my $length = unpack 'N', $pending;
            last if length $pending < 4 + $length;
            my $command = substr $pending, 4, $length;
            substr($pending, 0, 4 + $length) = '';
            my $test = launch($command);
            return $test if $test;
        }
    }
}

# Forks the auditor-to-be for one spawn. Returns nothing in the forker;
# returns the test's description in the test process (the grandchild).
sub launch {
    my ($command) = @_;
    my ($job, $try, $file, $merge, $cwd, $env_count, @rest) = split /\0/, $command, -1;
    my %env;
    for (1 .. $env_count) {
        my ($name, $value) = splice @rest, 0, 2;
        $env{ substr $name, 1 } = substr($name, 0, 1) eq '+' ? $value : undef;
    }
    my $spawn = {
        job => $job, try => $try, file => $file, merge => $merge, cwd => length $cwd ? $cwd : undef,
        env => \%env, auditor => \@rest,
    };

    my $launch = eval { prepare_launch($spawn) };
    if (!$launch) {
        forker_says('error', $job, $try, 'unable to spawn: ' . one_line($@));
        return;
    }
    my $pid = fork;
    if (defined $pid && $pid == 0) {
        return become_auditor($launch);
    }
    # The pipes are the job's: the forker keeps no end of them.
    close $_ for @{ $launch->{read_ends} }[0 .. ($merge ? 0 : 1)],
        $launch->{stdout_write}, $merge ? () : $launch->{stderr_write};
    if (!defined $pid) {
        forker_says('error', $job, $try, "unable to fork: $!");
        return;
    }
    $auditors{$pid} = [$job, $try];
    forker_says('launched', $job, $try, $pid);
    return;
}

sub reap_auditors {
    # Once the stage is gone (killed, say), its auditors must go to the
    # runner, a subreaper, which learns of their end only by reaping them:
    # the forker leaves before it reaps one it could no longer report.
    leave(0) if getppid() != $stage{stage_pid};
    while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
        my $status = $?;
        my $auditor = delete $auditors{$pid} or next;    # not ours
        forker_says('done', @$auditor, $pid, POSIX::WIFSIGNALED($status)
            ? ('signal', POSIX::WTERMSIG($status))
            : ('status', POSIX::WEXITSTATUS($status)));
    }
}

sub forker_says {
    my $line = join("\0", map { my $field = $_; $field =~ tr/\0\n/  /; $field } @_) . "\n";
    write_all($stage{results}, $line) or leave(0);    # the stage is gone
}

sub write_all {
    my ($handle, $bytes) = @_;
    my $offset = 0;
    while ($offset < length $bytes) {
        my $wrote = syswrite $handle, $bytes, length($bytes) - $offset, $offset;
        if (!defined $wrote) {
            next if $!{EINTR};
            return 0;
        }
        $offset += $wrote;
    }
    return 1;
}

# --- the auditor-to-be (child) -----------------------------------------------

# In the stage, before the fork: the test's pipes and the auditor's argv, so
# that the auditor-to-be has nothing left to do but fork the test and exec.
# Every Perl op it runs writes to pages it shares with the stage (and, once
# it has forked the test, with the test too), and each page written is a
# copy-on-write fault: work done here, in the stage, is paid for once.
sub prepare_launch {
    my ($spawn) = @_;
    pipe my $stdout_read, my $stdout_write or die "unable to make a pipe: $!\n";
    my ($stderr_read, $stderr_write);
    if ($spawn->{merge}) {
        ($stderr_read, $stderr_write) = ($stdout_read, $stdout_write);
    }
    else {
        pipe $stderr_read, $stderr_write or die "unable to make a pipe: $!\n";
    }
    # Perl opened the pipes close-on-exec (above $^F): the write ends, which
    # only the test may hold or the auditor never sees EOF, go with the
    # auditor's exec; the read ends cross it (the test closes its copies).
    set_close_on_exec($_, 0) for $stdout_read, $stderr_read;
    my @lifeline = $stage{lifeline} ? ('--lifeline-fd', fileno $stage{lifeline}) : ();
    return {
        spawn        => $spawn,
        argv         => [
            @{ $spawn->{auditor} },
            '--stdout-fd', fileno($stdout_read),
            '--stderr-fd', fileno($stderr_read),
            @lifeline,
        ],
        stdout_write => $stdout_write,
        stderr_write => $stderr_write,
        read_ends    => [$stdout_read, $stderr_read],
    };
}

# In the child: fork the test, exec the auditor. Returns only in the test
# process. Never writes to the socket, never returns into the stage loop:
# any failure ends in _exit. Signals are left alone here (resetting them
# costs about 50 page faults a job): the exec resets the caught ones, the
# auditor installs its own handlers, and the test resets its own.
sub become_auditor {
    my ($launch) = @_;
    my $test = eval {
        my $test_pid = fork;
        die "unable to fork the test: $!\n" unless defined $test_pid;
        return $launch if $test_pid == 0;

        # The test does this too: whichever runs first, the group exists
        # before the auditor (which kills by group) starts.
        POSIX::setpgid($test_pid, $test_pid);

        my $argv = $launch->{argv};
        no warnings 'exec';    # a failed exec is reported below
        exec { $argv->[0] } @$argv, '--pid', $test_pid;
        my $why = $!;
        kill 'KILL', -$test_pid;
        die "unable to exec $argv->[0]: $why\n";
    };
    return $test if $test;

    # Nobody else can say why the job's auditor ended with this status.
    print STDERR 'proctor stage: ', one_line($@ || 'unable to start the auditor'), "\n";
    POSIX::_exit($AUDITOR_UNSTARTED);
}

# --- the test (grandchild) ---------------------------------------------------

# In the test process, at the top of the stage file's dynamic scope (no stage
# loop or eval around it): set the slate clean, run the file, exit as perl
# would have.
sub run_test {
    my ($test) = @_;
    my $file = $test->{spawn}{file};
    $in_test = 1;
    $stage{test_pid} = $$ if $stage{record_dir};

    my $ready = eval { clean_slate($test); 1 };
    if (!$ready) {
        print STDERR 'proctor stage: unable to prepare the test: ', one_line($@), "\n";
        POSIX::_exit(255);
    }

    # perl refuses to run a file it cannot open, with status 2.
    open my $source, '<', $file or do {
        print STDERR "Can't open perl script \"$file\": $!\n";
        POSIX::_exit(2);    # before any of the file ran: no END blocks
    };

    # Shebang switches perl would honour: only -w matters here (-T files
    # never reach a stage). sysread, not readline: a readline would leave
    # $source as the last-read handle, and the test's die messages would
    # end in ", <$source> line 1."
    my $head;
    sysread $source, $head, $HEAD_BYTES;
    if (defined $head && rindex($head, '#!', 0) == 0) {
        my ($first_line) = $head =~ /\A([^\n]*)/;
        $^W = 1 if $first_line =~ /\A#!.*\bperl\S*(?:\s+-[a-zA-Z]+)*?\s+-[lsTtWX]*w[lsTtWX]*(?:\s|\z)/;
    }
    my $may_end = mentions_end($source, $head // '');
    sysseek $source, 0, 0;

    load_test_file($file, $source, $may_end);
    # Not reached: load_test_file exits.
}

sub clean_slate {
    my ($test) = @_;
    my $spawn = $test->{spawn};

    # The CPUs the run was given, not the one the stage keeps to (a failure
    # leaves the test there: nothing it could do about it).
    my $cpus = $stage{cpu_mask};
    syscall($cpus->[0], 0, length $cpus->[1], $cpus->[1]) if $cpus;

    # Sibling mode: the auditor waits for this. Stdin is the stage's
    # /dev/null already.
    take_sibling_pipes($spawn) if $stage{clone};

    POSIX::setpgid(0, 0);    # its own group, so the auditor can kill all of it
    reset_signals() if @{ $stage{signals} };    # each call a page or two to copy

    # The stage's ends: past its own launch, a test never speaks for the stage.
    if ($stage{clone}) {
        close $stage{socket};
    }
    else {
        close $_ for grep { defined } @stage{qw(socket commands results wake_read wake_write)};
    }

    if (!$stage{clone}) {
        open STDIN, '<', '/dev/null' or die "unable to open /dev/null: $!\n";
        open STDOUT, '>&', $test->{stdout_write} or die "unable to redirect stdout: $!\n";
        open STDERR, '>&', $test->{stderr_write} or die "unable to redirect stderr: $!\n";
        close $_ for $test->{stdout_write}, $test->{stderr_write}, @{ $test->{read_ends} };
    }
    close $stage{lifeline} if $stage{lifeline};

    # The stage never changes %ENV after preloading (but for a slot's TMPDIR,
    # which next_sibling_spawn sets in the stage), so this %ENV is the test's
    # but for Test2's preload flag (reset_test2 drops it, in the stage when
    # it sets Test2 up there) and the spawn's env; each variable set costs a
    # setenv, so only that is applied (in sibling mode, usually nothing).
    if (my $overrides = $spawn->{env}) {
        for my $name (keys %$overrides) {
            my $value = $overrides->{$name};
            if (defined $value) { $ENV{$name} = $value }
            else                { delete $ENV{$name} }
        }
        # A run's own PERL5LIB (its -I, say), which a perl started with it
        # would have put first in @INC: its directories the stage lacks go
        # there (none it has goes; its preloaded modules came from them).
        if (defined $overrides->{PERL5LIB}) {
            my %in = map { $_ => 1 } grep { !ref } @INC;
            unshift @INC, grep { length && !$in{$_}++ } split /:/, $overrides->{PERL5LIB};
        }
    }

    # Where the run was asked from: a stage that outlives runs (the
    # persistent runner's) serves runs from anywhere.
    my $dir = $spawn->{cwd} // $stage{start_dir};
    chdir $dir or die "unable to chdir to $dir: $!\n";

    $0    = $spawn->{file};
    @ARGV = ();
    $^T   = time;
    srand();    # else every test forked after a preloaded rand() repeats its sequence

    reset_test_libraries();
    reopen_data_handles() if @{ $stage{data_marks} };

    return 1;
}

# Notes the signals whose disposition is not what a fresh perl has: the
# stage's own handlers, what preloading set. The stage changes none after
# this, so these are all a fork has to reset (reading an entry of %SIG costs
# a sigaction call, setting one two or more; in sibling mode the list is
# usually empty). Its signal mask is emptied here once: perl's fork restores
# the mask it had before, so every auditor and test starts with an empty one.
sub capture_signals {
    my $fresh = $stage{fresh_signals};
    $stage{signals} = [grep {
        $_ ne 'ZERO' && defined $SIG{$_} && !(defined $fresh->{$_} && "$SIG{$_}" eq $fresh->{$_})
    } sort keys %SIG];
    POSIX::sigprocmask(POSIX::SIG_SETMASK(), POSIX::SigSet->new);
}

sub reset_signals {
    # Deleting an entry sets the disposition to the default and leaves %SIG
    # reading undef; one a fresh perl sets itself goes back to that.
    my $fresh = $stage{fresh_signals};
    for my $name (@{ $stage{signals} }) {
        if (defined $fresh->{$name}) { $SIG{$name} = $fresh->{$name} }
        else                         { delete $SIG{$name} }
    }
}

# State preloaded libraries keep between tests: what must look freshly loaded.
sub reset_test_libraries {
    if ($stage{t2}) {
        take_over_test2();
    }
    else {
        reset_test2();
    }
    FindBin::again() if defined &FindBin::again;    # it read the stage's $0
    Getopt::Long::ConfigDefaults() if defined &Getopt::Long::ConfigDefaults;
}

# Test2 and Test::Builder as a fresh perl has them before `use Test::More`;
# the test's own `use` sets them up.
sub reset_test2 {
    if ($INC{'Test2/API.pm'}) {
        # Leaving preload mode resets the instance; post_preload_reset also
        # re-clones the stdout/stderr Test2 formats to, from the new ones.
        Test2::API::test2_stop_preload()
            if defined &Test2::API::test2_in_preload && Test2::API::test2_in_preload();
        Test2::API::test2_post_preload_reset() if defined &Test2::API::test2_post_preload_reset;
        # Preload mode, and the flag it sets (and unsets as "0"), are the
        # stage's business, not the test's.
        delete $ENV{T2_IN_PRELOAD} if $stage{t2_preload};

        # Hubs made in the stage (Test2 loaded outside preload mode) carry the
        # stage's counts and output handles: drop them, the first context
        # makes a fresh root hub.
        my $stack = defined &Test2::API::test2_stack && Test2::API::test2_stack();
        @$stack = () if $stack && eval { $stack->isa('Test2::API::Stack') };
    }
    if ($INC{'Test/Builder.pm'} && $Test::Builder::Test) {
        # Test::Builder keeps the first output handles it saw; forget them so
        # it takes the test's.
        delete @{$Test::Builder::Test}{qw(Orig_Handles Opened_Testhandles)};
        # Before Test2 (Perl < 5.26's Test::More) the builder is the state.
        $Test::Builder::Test->reset unless $INC{'Test2/API.pm'};
    }
}

# Setting Test2 up (what `use Test::More` does first in a test: the root hub,
# the formatter, Test::Builder's reset, each with its own copies of STDOUT
# and STDERR) costs a test about 200 copy-on-write faults, half a
# millisecond here. So the stage does it once, as a test would, with STDOUT
# and STDERR on two pipes of its own, and notes which descriptors are copies
# of either; each test puts its own pipes under those descriptors and claims
# the instance, root hub and builder for its pid (take_over_test2).
#
# Only in the plain case: Test::More (Test2-based) preloaded in preload mode,
# without threads or Test2::IPC, whose set-up a test may want to choose.
# Otherwise, or if anything fails here, each test sets Test2 up itself.
sub prepare_test2 {
    return unless $stage{t2_preload} && $INC{'Test/Builder.pm'} && $Test::Builder::Test;
    return if $INC{'Test2/IPC.pm'} || $INC{'threads.pm'};
    return unless defined &Test2::API::Instance::load && defined &Test2::API::test2_stack;
    pipe my $out_read, my $out_write or return;
    pipe my $err_read, my $err_write or return;
    open my $saved_out, '>&', \*STDOUT or return;
    open my $saved_err, '>&', \*STDERR or return;
    my @pipes = map { [(stat $_)[0, 1]] } $out_write, $err_write;

    POSIX::dup2(fileno $out_write, 1);
    POSIX::dup2(fileno $err_write, 2);
    my $instance;
    my $ready = eval {
        reset_test2();
        no warnings 'redefine';
        my $load = \&Test2::API::Instance::load;
        # The instance is Test2::API's own lexical: its load method shows it.
        local *Test2::API::Instance::load = sub { $instance = $_[0]; goto &$load };
        Test2::API::test2_load();
        Test2::API::test2_stack()->top;
        1;
    };
    POSIX::dup2(fileno $saved_out, 1);
    POSIX::dup2(fileno $saved_err, 2);
    close $_ for $saved_out, $saved_err, $out_read, $out_write, $err_read, $err_write;
    if (!$ready || ref $instance ne 'Test2::API::Instance') {
        # Half set up is as good as not: each test resets it.
        return;
    }

    my (@out, @err);
    opendir my $fd_dir, '/proc/self/fd' or return;
    for my $fd (grep { /\A[0-9]+\z/ && $_ > 2 } readdir $fd_dir) {
        my ($dev, $ino) = POSIX::fstat($fd) or next;
        push @out, 0 + $fd if $dev == $pipes[0][0] && $ino == $pipes[0][1];
        push @err, 0 + $fd if $dev == $pipes[1][0] && $ino == $pipes[1][1];
    }
    # The hub stack as a test finds it: the root hub, made above.
    $stage{t2} = { instance => $instance, out => \@out, err => \@err, hubs => [Test2::API::test2_stack()->all] };
}

# Every fork copies the page table entries of the stage's heap (some 2000
# for Test::More), and every exit tears them down again. Backed by huge
# pages, the heap has a few hundred times fewer: MADV_COLLAPSE (Linux 6.1)
# makes it so now, for what preloading allocated. Only the stage's heap as
# it stands: what a test allocates later is left to the system's settings.
# (A test that writes to such a page copies 4 KiB of it, not 2 MiB.)
sub collapse_heap {
    return unless $stage{madvise};
    open my $maps, '<', '/proc/self/maps' or return;
    while (my $line = <$maps>) {
        next unless $line =~ /\A([0-9a-f]+)-([0-9a-f]+) .*\[heap\]$/;
        my ($start, $end) = do { no warnings 'portable'; (hex $1, hex $2) };
        $start = int(($start + $HUGE_PAGE - 1) / $HUGE_PAGE) * $HUGE_PAGE;
        $end = int($end / $HUGE_PAGE) * $HUGE_PAGE;
        # One huge page at a time, each tried twice: a collapse can fail for
        # the moment (EAGAIN, a page not yet on its LRU list). Refused on
        # older kernels, or with huge pages off: nothing lost.
        for (my $at = $start; $at < $end; $at += $HUGE_PAGE) {
            for (1 .. 2) {
                last if syscall($stage{madvise}, 0 + $at, 0 + $HUGE_PAGE, 0 + $MADV_COLLAPSE) == 0;
            }
        }
        last;
    }
}

# In the test: the copies of STDOUT and STDERR Test2 made in the stage get
# the test's pipes, and the instance, root hub and builder become this
# process's (they check the pid they were made in before they report).
sub take_over_test2 {
    my $t2 = $stage{t2};
    POSIX::dup2(1, $_) for @{ $t2->{out} };
    POSIX::dup2(2, $_) for @{ $t2->{err} };
    # dup2 clears close-on-exec, which perl set on these copies (above $^F):
    # without it, a server the test starts in the background would hold the
    # test's output open, where under a fresh perl it holds nothing.
    if ($stage{fcntl}) {
        syscall($stage{fcntl}, 0 + $_, F_SETFD, FD_CLOEXEC) for @{ $t2->{out} }, @{ $t2->{err} };
    }
    $t2->{instance}{_pid} = $$;
    $_->{pid} = $$ for @{ $t2->{hubs} };
    $Test::Builder::Test->{Original_Pid} = $$;
}

sub reopen_data_handles {
    for my $mark (@{ $stage{data_marks} }) {
        my ($package, $path, $offset) = @$mark;
        no strict 'refs';
        my $glob = \*{"${package}::DATA"};
        close $glob;
        open $glob, '<', $path and seek $glob, $offset, 0;
    }
}

# At the test's exit, after every END block: flush what perl would flush and
# leave without global destruction. Destruction would visit every SV the
# stage preloaded and free them into pages shared with the stage (a fault
# each), all for a process about to exit. Kept for a test that has children
# (closing a piped open waits for its process) or loaded threads, and when an
# END block older than ours (a module from PERL5OPT) has yet to run.
sub finish_test {
    # Threads still running are perl's to report and join.
    return unless $stage{last_end} && !$INC{'threads.pm'};
    my $status = $?;    # the exit status, as END blocks left it
    if (waitpid(-1, POSIX::WNOHANG()) != -1) {    # children, or one just reaped
        $? = $status;    # waitpid set it
        return;
    }
    {
        # exec flushes every PerlIO handle before it tries; "/" fails at once.
        local $!;
        no warnings 'exec';
        exec { '/' } '/';
    }
    POSIX::_exit($status);
}

# Whether our END block is the oldest one: older ones run after it, and a
# test that ends through finish_test would skip them. B answers, in a
# throwaway child, so the stage does not carry it.
sub our_end_block_runs_last {
    # Only code compiled before this file can have an older END block: a
    # module PERL5OPT loads, or a sitecustomize.pl. Without either, ours is
    # the oldest, and no child need load B to say so.
    my $site_customize = do { no warnings 'once'; $Config::Config{usesitecustomize} };
    return 1 if !(defined $ENV{PERL5OPT} && $ENV{PERL5OPT} =~ /\S/)
        && $INC{'Config.pm'} && !$site_customize;
    my $pid = fork;
    return 0 unless defined $pid;
    if ($pid == 0) {
        my $last = eval {
            require B;
            my $ends = B::end_av();
            my @ends = $ends->isa('B::AV') ? $ends->ARRAY : ();
            @ends && $ends[-1]->FILE eq __FILE__;
        };
        POSIX::_exit($last ? 0 : 1);
    }
    waitpid $pid, 0;
    return $? == 0;
}

# The one-shot @INC hook of load_test_file: the test file, open, behind a
# #line naming it as given. (A named sub, not a closure: a closure is a CV
# made in the test, in pages it shares with the stage.)
sub hand_over_test_file {
    my (undef, $wanted) = @_;
    my $source = $stage{source};
    return unless $source && $wanted eq $stage{source_file};
    @INC = grep { !(ref $_ && $_ == \&hand_over_test_file) } @INC;
    $stage{source} = undef;
    (my $file = $wanted) =~ s{\AProctor-Stage/}{};
    my $line_directive = qq{#line 1 "$file"\n};
    return (\$line_directive, $source) unless $stage{end};
    # Compiled through watch_for_end, and opening main::DATA once compiled
    # (a UNITCHECK block runs then, before any of the file does). Perl
    # takes $source for its own and closes it: the copy shares its file.
    open $stage{end}{copy}, '<&', $source or return (\$line_directive, $source);
    my $prefix = "UNITCHECK { Proctor::Stage::open_main_data() }\n$line_directive";
    return (\$prefix, $source, \&watch_for_end);
}

# --- __END__ -------------------------------------------------------------------

# `perl FILE` opens main::DATA on the script where its lexer meets __END__;
# a required file's lexer stops there and opens nothing. Only the lexer
# knows a token from the same text in POD, a string or a heredoc, so a file
# that holds the text at all is compiled through watch_for_end, a source
# filter that notes where each line it hands on begins and ends: once the
# file is compiled, the last one is the line the lexer stopped in.

# Whether "__END__" is anywhere in the file, from its head on (the head
# read, the rest read in one reused buffer).
sub mentions_end {
    my ($source, $head) = @_;
    return 1 if index($head, '__END__') >= 0;
    return 0 if length $head < $HEAD_BYTES;    # all of it
    my ($tail, $chunk) = (substr($head, -6), '');
    while (sysread $source, $chunk, $CHUNK_BYTES) {
        return 1 if index($tail . $chunk, '__END__') >= 0;
        $tail = substr $chunk, -6;
    }
    return 0;
}

# The source filter: the line is in $_, as perl read it.
sub watch_for_end {
    my $end = $stage{end};
    $end->{line_start} = $end->{line_end};
    $end->{line_end} += length;
    # `use utf8` in force where __END__ is gives main::DATA a :utf8 layer.
    $end->{utf8} = $^H & 0x00800000;
    return length() ? 1 : 0;
}

sub open_main_data {
    my $end = delete $stage{end};
    my $copy = $end->{copy};
    # (By name: *main::DATA written here would make the glob in every test.)
    my $data = do { no strict 'refs'; \*{"main::DATA"} };
    return if defined fileno $data;    # __DATA__, in package main
    sysseek $copy, $end->{line_start}, 0 or return;
    sysread $copy, my $line, $end->{line_end} - $end->{line_start};
    # The filter has seen every line when the file ends in POD that
    # mentions __END__: that is no token, and perl would open nothing.
    return unless defined $line && $line =~ /(?:\A|[\s;}])__END__\b/;
    *$data = *$copy{IO};
    seek $data, $end->{line_end}, 0;
    binmode $data, ':utf8' if $end->{utf8};
}

# --- what a test loaded (--record-modules, for --preload auto) ---------------

# First in @INC, before anything is preloaded: it sees each require that
# reaches it as it starts, so the order is the order of first loading.
sub start_recording_requires {
    $stage{record_base} = { map { $_ => 1 } keys %INC };
    $stage{record_dir} = "$stage{start_dir}/$stage{record_dir}" if rindex($stage{record_dir}, '/', 0) != 0;
    unshift @INC, \&note_require;
}

sub note_require {
    push @required, $_[1];
    return;    # nothing found here: perl looks on
}

# In the test's END (ours, the last): the modules it has loaded, in the
# order first required, then those loaded past the hook (from a directory
# put before it in @INC), each marked `p` when it came from the project.
# Written whole under a name the auditor never reads, then renamed.
sub report_modules {
    return unless $$ == $stage{test_pid};
    my $base = $stage{record_base};
    my %seen;
    my @files = grep { !$base->{$_} && defined $INC{$_} && !$seen{$_}++ } @required;
    push @files, sort grep { !$base->{$_} && defined $INC{$_} && !$seen{$_}++ } keys %INC;
    my $report = '';
    for my $file (@files) {
        next unless $file =~ m{\A(?:\w+/)*\w+\.pm\z};
        (my $module = substr $file, 0, -3) =~ s{/}{::}g;
        $report .= (from_project($INC{$file}) ? 'p ' : '- ') . "$module\n";
    }
    my $path = "$stage{record_dir}/modules-$$";
    local ($!, $?);
    open my $out, '>', "$path.part" or return;
    print {$out} $report;
    close $out and rename "$path.part", $path;
}

# A module is the project's when found through a relative directory, under
# the run's directory or one of its -I/-l/-b directories, or by a hook.
sub from_project {
    my ($path) = @_;
    return 1 if ref $path || rindex($path, '/', 0) != 0;
    for my $dir (@{ $stage{project_dirs} }) {
        return 1 if rindex($path, "$dir/", 0) == 0;
    }
    return 0;
}

# --- helpers -----------------------------------------------------------------

# --- JSON: the protocol's, written here so the stage need not carry JSON::PP.

# An object with its keys in the order given ("type" first, as the protocol
# promises).
sub json_object {
    my @pairs = @_;
    my @fields;
    while (@pairs) {
        my ($key, $value) = splice @pairs, 0, 2;
        my $json = ref $value eq 'Proctor::Stage::RawJSON' ? $$value
                 : $NUMBER_KEY{$key} ? 0 + $value
                 : json_string($value);
        push @fields, json_string($key) . ':' . $json;
    }
    return '{' . join(',', @fields) . '}';
}

# Bytes go out as they are (UTF-8 stays UTF-8); characters above 0xff are
# encoded by send_message.
sub json_string {
    my ($text) = @_;
    $text = "$text";
    $text =~ s/(["\\\x00-\x1f])/$ESCAPE{$1} || sprintf('\\u%04x', ord $1)/ge;
    return qq{"$text"};
}

# Decodes one JSON text of bytes; strings come back as bytes (UTF-8 as it
# came, \u escapes encoded as UTF-8), true and false as 1 and '', null as
# undef. Dies with the offset of what it cannot read.
sub decode_json {
    my ($text) = @_;
    pos($text) = 0;
    my $value = json_value(\$text);
    $text =~ /\G[ \t\r\n]*\z/gc or json_fail(\$text, 'text after the value');
    return $value;
}

sub json_value {
    my ($in) = @_;
    $$in =~ /\G[ \t\r\n]*/gc;
    if ($$in =~ /\G"/gc) {
        return json_string_body($in);
    }
    if ($$in =~ /\G\{[ \t\r\n]*/gc) {
        my %object;
        return \%object if $$in =~ /\G\}/gc;
        while (1) {
            $$in =~ /\G[ \t\r\n]*"/gc or json_fail($in, 'expected a string');
            my $key = json_string_body($in);
            $$in =~ /\G[ \t\r\n]*:/gc or json_fail($in, "expected ':'");
            $object{$key} = json_value($in);
            $$in =~ /\G[ \t\r\n]*/gc;
            next if $$in =~ /\G,/gc;
            return \%object if $$in =~ /\G\}/gc;
            json_fail($in, "expected ',' or '}'");
        }
    }
    if ($$in =~ /\G\[[ \t\r\n]*/gc) {
        my @array;
        return \@array if $$in =~ /\G\]/gc;
        while (1) {
            push @array, json_value($in);
            $$in =~ /\G[ \t\r\n]*/gc;
            next if $$in =~ /\G,/gc;
            return \@array if $$in =~ /\G\]/gc;
            json_fail($in, "expected ',' or ']'");
        }
    }
    if ($$in =~ /\G(-?(?:0|[1-9][0-9]*)((?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?))/gc) {
        # Integers stay as written (job numbers may pass 2**53).
        return length $2 ? 0 + $1 : $1;
    }
    return 1     if $$in =~ /\Gtrue/gc;
    return ''    if $$in =~ /\Gfalse/gc;
    return undef if $$in =~ /\Gnull/gc;
    json_fail($in, 'expected a value');
}

# After the opening quote; returns the string's bytes.
sub json_string_body {
    my ($in) = @_;
    my $string = '';
    while (1) {
        if ($$in =~ /\G([^"\\\x00-\x1f]+)/gc) {
            $string .= $1;
        }
        elsif ($$in =~ /\G"/gc) {
            return $string;
        }
        elsif ($$in =~ /\G\\(["\\\/bfnrt])/gc) {
            $string .= $UNESCAPE{$1};
        }
        elsif ($$in =~ /\G\\u([0-9a-fA-F]{4})/gc) {
            my $code = hex $1;
            if ($code >= 0xD800 && $code < 0xDC00 && $$in =~ /\G\\u(d[c-f][0-9a-f]{2})/gci) {
                $code = 0x10000 + (($code - 0xD800) << 10) + (hex($1) - 0xDC00);
            }
            my $char = chr $code;
            utf8::encode($char);
            $string .= $char;
        }
        else {
            json_fail($in, 'bad string');
        }
    }
}

sub json_fail {
    my ($in, $what) = @_;
    die sprintf "%s at offset %d\n", $what, pos($$in) || 0;
}

sub raw_json {
    my ($text) = @_;
    return bless \$text, 'Proctor::Stage::RawJSON';
}

sub send_message {
    write_all($stage{socket}, message_line(@_)) or leave(0);    # the runner is gone; nobody left to tell
}

sub message_line {
    my $line = json_object(@_) . "\n";
    utf8::encode($line) if $line =~ /[^\x00-\xff]/;
    return $line;
}

# The stage's only way out: _exit, so preloaded modules' END blocks (Test2's
# among them) never run in the stage.
sub leave {
    my ($status) = @_;
    POSIX::_exit($status);
}

sub fail_to_start {
    my ($why) = @_;
    send_message(type => 'error', message => one_line($why)) if $stage{socket};
    leave(1);
}

sub one_line {
    my ($text) = @_;
    $text = "$text";
    $text =~ s/\s+\z//;
    $text =~ s/\s*\n\s*/ /g;
    return $text;
}

sub set_close_on_exec {
    my ($handle, $on) = @_;
    my $flags = fcntl($handle, F_GETFD, 0) or return;
    $flags = $on ? ($flags | FD_CLOEXEC) : ($flags & ~FD_CLOEXEC);
    fcntl($handle, F_SETFD, $flags);
}

sub set_nonblocking {
    my ($handle) = @_;
    my $flags = fcntl($handle, F_GETFL, 0) or return;
    fcntl($handle, F_SETFL, $flags | O_NONBLOCK);
}

# Runs the test file as `perl FILE` would, then exits.
sub load_test_file {
    my ($file, $source, $may_end) = @_;

    # `do` looks a relative name up in @INC, which no longer holds '.'. A
    # one-shot @INC hook hands perl the open file, with a #line so that
    # __FILE__, caller and warnings name the file as given; it removes itself
    # before the file compiles, so the test sees its own @INC. A name `do`
    # would not look up (/..., ./...) is asked for under a prefix that it
    # does, so the hook hands over the file all the same.
    my $name = $file =~ m{\A\.{0,2}/} ? "Proctor-Stage/$file" : $file;
    if ($file !~ /["\n]/) {
        @stage{qw(source source_file)} = ($source, $name);
        $stage{end} = { line_start => 0, line_end => 0 } if $may_end;
        unshift @INC, \&hand_over_test_file;
    }
    elsif ($file !~ m{\A\.{0,2}/}) {
        $name = "./$file";    # a name #line cannot carry: settle for ./
    }
    else {
        $name = $file;
    }

    # A clean $@, $! and $_, and the empty pattern reset (see "The empty
    # pattern" in perlop), as in a fresh perl.
    ($@, $!, $_) = ('', 0, undef);
    '' =~ /^/;

    package main;
    do $name;
    if (my $error = $@) {
        print STDERR $error;
        exit 255;
    }
    exit 0;
}
