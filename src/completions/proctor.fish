# fish completion for proctor(1), and for prove when it is proctor under that name.
# Written by hand; keep it in step with `proctor --help` and `proctor prove --help`.

set -l commands test run start status reload stop failed replay times report modules driver prove help

complete -c proctor -f
complete -c proctor -n "not __fish_seen_subcommand_from $commands" -s h -l help -d 'Show help'
complete -c proctor -n "not __fish_seen_subcommand_from $commands" -s V -l version -d 'Show the version'
complete -c proctor -n "not __fish_seen_subcommand_from $commands" -a test -d 'Run tests'
complete -c proctor -n "not __fish_seen_subcommand_from $commands" -a run -d 'Run tests on the persistent runner'
complete -c proctor -n "not __fish_seen_subcommand_from $commands" -a start -d 'Start a persistent runner'
complete -c proctor -n "not __fish_seen_subcommand_from $commands" -a status -d "The persistent runner's state"
complete -c proctor -n "not __fish_seen_subcommand_from $commands" -a reload -d 'Start its stage again'
complete -c proctor -n "not __fish_seen_subcommand_from $commands" -a stop -d 'End the persistent runner'
complete -c proctor -n "not __fish_seen_subcommand_from $commands" -a failed -d 'List the files that failed in a run'
complete -c proctor -n "not __fish_seen_subcommand_from $commands" -a replay -d 'Show a recorded run again'
complete -c proctor -n "not __fish_seen_subcommand_from $commands" -a times -d 'Per-file durations, slowest first'
complete -c proctor -n "not __fish_seen_subcommand_from $commands" -a report -d 'The run as an HTML page'
complete -c proctor -n "not __fish_seen_subcommand_from $commands" -a modules -d 'What each perl file loaded (--preload auto)'
complete -c proctor -n "not __fish_seen_subcommand_from $commands" -a driver -d 'Automake custom test driver'
complete -c proctor -n "not __fish_seen_subcommand_from $commands" -a prove -d "prove's options and output"
complete -c proctor -n "not __fish_seen_subcommand_from $commands" -a help -d 'Show help'
complete -c proctor -n "__fish_seen_subcommand_from test run start status reload stop failed replay times report modules driver help" -s h -l help -d "Show the command's help"
complete -c proctor -n "__fish_seen_subcommand_from help" -x -a "$commands"

# proctor test
set -l t "__fish_seen_subcommand_from test run"
complete -c proctor -n $t -F
complete -c proctor -n $t -s j -l jobs -x -a '(seq 1 16)' -d 'Run N tests at once'
complete -c proctor -n $t -s r -l recurse -d 'Search directories recursively'
complete -c proctor -n $t -l ext -x -d 'Tests in directories end in EXT'
complete -c proctor -n $t -s l -l lib -d 'Add lib to PERL5LIB'
complete -c proctor -n $t -s b -l blib -d 'Add blib/lib and blib/arch to PERL5LIB'
complete -c proctor -n $t -s I -x -a '(__fish_complete_directories)' -d 'Add DIR to PERL5LIB'
complete -c proctor -n $t -l exec -x -a '(__fish_complete_command)' -d 'Run each file as CMD file'
complete -c proctor -n $t -s m -l merge -d "Send the test's stderr into its stdout pipe"
complete -c proctor -n $t -l event-timeout -x -d 'Stop a test silent for S seconds'
complete -c proctor -n $t -l leftovers -x -a 'run test' -d 'When to end what a test leaves running'
complete -c proctor -n $t -l log -r -F -d 'Also write the event log to FILE'
complete -c proctor -n $t -l no-log -d 'Keep no event log in the state directory'
complete -c proctor -n $t -s k -l keep -d 'Keep job directories and their logs'
complete -c proctor -n $t -l state-dir -x -a '(__fish_complete_directories)' -d 'Keep logs in DIR'
complete -c proctor -n $t -l state-size -x -d 'Keep at most SIZE of event logs'
complete -c proctor -n $t -l log-fd -x -d 'Also write the event log to descriptor N'
complete -c proctor -n $t -l norc -d 'Read no .proctorrc'
complete -c proctor -n $t -l order -x -a 'durations given sorted reverse shuffle' -d 'The order tests start in'
complete -c proctor -n $t -s s -l shuffle -d 'Shuffle the order'
complete -c proctor -n $t -l failed -d 'Run only what failed in the last run'
complete -c proctor -n $t -l state -x -a 'failed passed all slow fast new save' -d "prove's state words"
complete -c proctor -n $t -l retry -x -d 'Try a failing file up to N more times'
complete -c proctor -n $t -l retry-isolated -d 'Retries run last, one at a time'
complete -c proctor -n $t -l explain -r -F -d 'Print a file\'s settings and their origins'
complete -c proctor -n $t -l strict -d 'A .proctorrc section matching no file is an error'
complete -c proctor -n $t -l flaky-fails -d 'A file that passes only on a retry fails the run'
complete -c proctor -n $t -l partition -x -a 'auto' -d 'slice:M/N, hash:M/N or auto'
complete -c proctor -n $t -l preload -x -d 'Run perl tests in a perl with MODULE loaded'
complete -c proctor -n $t -l preload-verify -d 'Run each preloaded file that passes again without preload'
complete -c proctor -n $t -l preload-recheck -d 'Preload again the files that failed preloaded before'
complete -c proctor -n $t -s v -l verbose -d 'Every line of every test'
complete -c proctor -n $t -s q -l quiet -d 'Only failures and the summary'
complete -c proctor -n $t -l qvf -d "Quiet, but a failing file's whole output"
complete -c proctor -n $t -s Q -l QUIET -d 'Only the summary'
complete -c proctor -n $t -l timer -d "Each file's time on its line"
complete -c proctor -n $t -l junit -r -F -d 'Also write JUnit XML to FILE'
complete -c proctor -n $t -l color -x -a 'auto always never' -d 'When to use color'
complete -c proctor -n $t -l colors -x -d 'Status line colors, e.g. P=050,F=500'

# proctor failed | replay | times | report | modules
set -l l "__fish_seen_subcommand_from failed replay times report modules"
complete -c proctor -n $l -F
complete -c proctor -n $l -l state-dir -x -a '(__fish_complete_directories)' -d 'Where the logs are'
complete -c proctor -n "__fish_seen_subcommand_from failed" -s v -l verbose -d 'Reasons too'
complete -c proctor -n "__fish_seen_subcommand_from failed" -l brief -d 'Names only'
complete -c proctor -n "__fish_seen_subcommand_from failed" -l json -d 'JSON'
complete -c proctor -n "__fish_seen_subcommand_from replay" -s f -l follow -d 'Follow a growing log'
complete -c proctor -n "__fish_seen_subcommand_from replay" -l junit -r -F -d 'Also write JUnit XML to FILE'
complete -c proctor -n "__fish_seen_subcommand_from report" -l html -r -F -d 'Write the page to FILE (-: stdout)'

# proctor driver
set -l d "__fish_seen_subcommand_from driver"
complete -c proctor -n $d -l test-name -x -d 'Name of the test'
complete -c proctor -n $d -l log-file -r -F -d 'The .log file to write'
complete -c proctor -n $d -l trs-file -r -F -d 'The .trs file to write'
complete -c proctor -n $d -l color-tests -x -a 'yes no' -d 'Color the RESULT lines'
complete -c proctor -n $d -l expect-failure -x -a 'yes no' -d 'The test is expected to fail'
complete -c proctor -n $d -l enable-hard-errors -x -a 'yes no' -d 'Treat hard errors as errors'
complete -c proctor -n $d -l collect-skipped-logs -x -a 'yes no' -d 'Keep the logs of skipped tests'
complete -c proctor -n $d -l protocol -x -a 'tap exit' -d 'How to judge the test'

# proctor prove, and prove itself
function __proctor_prove_options -a cmd cond
    complete -c $cmd -n $cond -F
    complete -c $cmd -n $cond -s v -l verbose -d 'Print every line of test output'
    complete -c $cmd -n $cond -s q -l quiet -d 'Less output while tests run'
    complete -c $cmd -n $cond -s Q -l QUIET -d 'Only the summary'
    complete -c $cmd -n $cond -s f -l failures -d 'Show failing test points'
    complete -c $cmd -n $cond -s o -l comments -d 'Show comments'
    complete -c $cmd -n $cond -l directives -d 'Show test points with SKIP or TODO'
    complete -c $cmd -n $cond -s p -l parse -d 'Show every parse error'
    complete -c $cmd -n $cond -s l -l lib -d 'Add lib to PERL5LIB'
    complete -c $cmd -n $cond -s b -l blib -d 'Add blib/lib and blib/arch to PERL5LIB'
    complete -c $cmd -n $cond -s I -x -a '(__fish_complete_directories)' -d 'Add DIR to PERL5LIB'
    complete -c $cmd -n $cond -s r -l recurse -d 'Search directories recursively'
    complete -c $cmd -n $cond -l ext -x -d 'Files in directories ending in EXT'
    complete -c $cmd -n $cond -s w -d 'Perl tests run with warnings'
    complete -c $cmd -n $cond -s W -d 'Perl tests run with all warnings'
    complete -c $cmd -n $cond -s t -d 'Perl tests run in taint mode, warnings only'
    complete -c $cmd -n $cond -s T -d 'Perl tests run in taint mode'
    complete -c $cmd -n $cond -l ignore-exit -d "A test's exit status does not fail it"
    complete -c $cmd -n $cond -s M -x -d 'Load a module as prove would'
    complete -c $cmd -n $cond -s e -l exec -x -a '(__fish_complete_command)' -d 'Run each file as CMD file'
    complete -c $cmd -n $cond -s m -l merge -d "Merge each test's stderr into its TAP"
    complete -c $cmd -n $cond -s j -l jobs -x -a '(seq 1 16)' -d 'Run N tests at once'
    complete -c $cmd -n $cond -l timer -d 'Time each test'
    complete -c $cmd -n $cond -s s -l shuffle -d 'Run files in random order'
    complete -c $cmd -n $cond -l reverse -d 'Run files in reverse order'
    complete -c $cmd -n $cond -s D -l dry -d 'List the files, run nothing'
    complete -c $cmd -n $cond -l rc -r -F -d 'Read options from FILE too'
    complete -c $cmd -n $cond -l norc -d 'Read no rc file'
    complete -c $cmd -n $cond -l state -x -a 'last failed passed all hot todo slow fast new old fresh save adrian' -d 'Select and order files by earlier runs'
    complete -c $cmd -n $cond -l statefile -r -F -d 'Keep the state in FILE'
    complete -c $cmd -n $cond -l trap -d 'Print the summary when interrupted'
    complete -c $cmd -n $cond -s c -l color -l colour -l nocolor -l nocolour -d 'Accepted: no colors either way'
    complete -c $cmd -n $cond -l count -l nocount -d 'Accepted: no running counts either way'
    complete -c $cmd -n $cond -l formatter -x -a 'TAP::Formatter::File' -d 'Accepted: prove not on a terminal'
    complete -c $cmd -n $cond -l tapversion -x -a '12 13' -d 'Accepted: 12 or 13'
    complete -c $cmd -n $cond -l event-timeout -x -d 'Stop a test silent for S seconds'
    complete -c $cmd -n $cond -s H -l man -d 'Show the manual page'
    complete -c $cmd -n $cond -s h -l help -d 'Show help'
    complete -c $cmd -n $cond -s V -l version -d 'Show the version'
end
__proctor_prove_options proctor "__fish_seen_subcommand_from prove"
__proctor_prove_options prove true
functions -e __proctor_prove_options
