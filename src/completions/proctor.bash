# bash completion for proctor(1), and for prove when it is proctor under that name.
# Written by hand; keep it in step with `proctor --help` and `proctor prove --help`.

_proctor_files() {
    compopt -o filenames 2>/dev/null
    local IFS=$'\n'
    COMPREPLY=($(compgen -f -- "$1"))
}

_proctor_dirs() {
    compopt -o filenames 2>/dev/null
    local IFS=$'\n'
    COMPREPLY=($(compgen -d -- "$1"))
}

_proctor_numbers() {
    local n
    n=$(getconf _NPROCESSORS_ONLN 2>/dev/null) || n=8
    [ "$n" -ge 8 ] 2>/dev/null || n=8
    COMPREPLY=($(compgen -W "$(seq 1 "$n")" -- "$1"))
}

_proctor() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    local prev=${COMP_WORDS[COMP_CWORD-1]}
    # --flag=value arrives as "--flag" "=" "value" with the default COMP_WORDBREAKS.
    if [[ $cur == = ]]; then
        prev=${COMP_WORDS[COMP_CWORD-1]}
        cur=
    elif [[ $prev == = ]] && ((COMP_CWORD >= 2)); then
        prev=${COMP_WORDS[COMP_CWORD-2]}
    fi

    local cmd= i
    if [[ ${COMP_WORDS[0]##*/} == prove ]]; then
        cmd=prove
    else
        for ((i = 1; i < COMP_CWORD; i++)); do
            case ${COMP_WORDS[i]} in
            -*) ;;
            *) cmd=${COMP_WORDS[i]}; break ;;
            esac
        done
    fi

    local commands="test run start status reload stop failed replay times report modules driver prove help"
    local show_flags="-v --verbose -q --quiet --qvf -Q --QUIET --timer --junit --color --colors"
    local test_flags="-j --jobs -r --recurse --ext -l --lib -b --blib -I --exec -m --merge
        --event-timeout --leftovers --log --log-fd --no-log -k --keep --state-dir --state-size --norc --order -s --shuffle
        --failed --state --retry --retry-isolated --explain --strict --flaky-fails --partition --preload --preload-verify --preload-recheck
        $show_flags -h --help"
    local log_flags="--state-dir -h --help"
    local driver_flags="--test-name --log-file --trs-file --color-tests --expect-failure
        --enable-hard-errors --collect-skipped-logs --protocol -h --help --"
    local prove_flags="-v --verbose -q --quiet -Q --QUIET -f --failures -o --comments
        --directives -p --parse -l --lib -b --blib -I -r --recurse --ext -e --exec -m --merge
        -w -W -t -T -M --ignore-exit -j --jobs --timer -s --shuffle --reverse --state
        --statefile -D --dry --rc --norc --trap -c --color --colour --nocolor --nocolour
        --count --nocount --formatter --tapversion --event-timeout -h --help -H --man
        -V --version"

    case $cmd in
    '')
        if [[ $prev == --version || $prev == -V ]]; then
            COMPREPLY=($(compgen -W "-v --state-dir" -- "$cur"))
        elif [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--help --version" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        ;;
    test | run)
        case $prev in
        -j | --jobs | --retry | --log-fd) _proctor_numbers "$cur"; return ;;
        -I | --state-dir) _proctor_dirs "$cur"; return ;;
        --log | --junit) _proctor_files "$cur"; return ;;
        --order) COMPREPLY=($(compgen -W "durations given sorted reverse shuffle" -- "$cur")); return ;;
        --leftovers) COMPREPLY=($(compgen -W "run test" -- "$cur")); return ;;
        --color) COMPREPLY=($(compgen -W "auto always never" -- "$cur")); return ;;
        --state) COMPREPLY=($(compgen -W "failed passed all slow fast new save" -- "$cur")); return ;;
        --partition) COMPREPLY=($(compgen -W "slice: hash: auto" -- "$cur")); return ;;
        --exec | --event-timeout | --preload | --colors | --ext | --state-size) COMPREPLY=(); return ;;
        esac
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$test_flags" -- "$cur"))
        else
            _proctor_files "$cur"
        fi
        ;;
    start)
        case $prev in
        -I | --state-dir) _proctor_dirs "$cur"; return ;;
        --preload) COMPREPLY=(); return ;;
        esac
        COMPREPLY=($(compgen -W "--preload -j --jobs -l --lib -b --blib -I --state-dir -h --help" -- "$cur"))
        ;;
    status | reload | stop)
        case $prev in
        --state-dir) _proctor_dirs "$cur"; return ;;
        esac
        COMPREPLY=($(compgen -W "--state-dir -h --help" -- "$cur"))
        ;;
    help)
        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        ;;
    failed | replay | times | report | modules)
        case $prev in
        --state-dir) _proctor_dirs "$cur"; return ;;
        --junit | --html) _proctor_files "$cur"; return ;;
        --color) COMPREPLY=($(compgen -W "auto always never" -- "$cur")); return ;;
        --colors) COMPREPLY=(); return ;;
        esac
        case $cmd in
        failed) log_flags="$log_flags -v --verbose --brief --json" ;;
        replay) log_flags="$log_flags -f --follow $show_flags" ;;
        report) log_flags="$log_flags --html" ;;
        esac
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$log_flags" -- "$cur"))
        else
            _proctor_files "$cur"
        fi
        ;;
    driver)
        case $prev in
        --log-file | --trs-file) _proctor_files "$cur"; return ;;
        --color-tests | --expect-failure | --enable-hard-errors | --collect-skipped-logs)
            COMPREPLY=($(compgen -W "yes no" -- "$cur")); return ;;
        --protocol) COMPREPLY=($(compgen -W "tap exit" -- "$cur")); return ;;
        --test-name) COMPREPLY=(); return ;;
        esac
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$driver_flags" -- "$cur"))
        else
            _proctor_files "$cur"
        fi
        ;;
    prove)
        case $prev in
        -j | --jobs) _proctor_numbers "$cur"; return ;;
        -I) _proctor_dirs "$cur"; return ;;
        -e | --exec | --ext | --event-timeout | -M) COMPREPLY=(); return ;;
        --rc | --statefile) _proctor_files "$cur"; return ;;
        --formatter) COMPREPLY=($(compgen -W "TAP::Formatter::File" -- "$cur")); return ;;
        --tapversion) COMPREPLY=($(compgen -W "12 13" -- "$cur")); return ;;
        --state)
            COMPREPLY=($(compgen -W "last failed passed all hot todo slow fast new old fresh save adrian" -- "$cur"))
            return ;;
        esac
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$prove_flags" -- "$cur"))
        else
            _proctor_files "$cur"
        fi
        ;;
    esac
}

complete -F _proctor proctor prove
