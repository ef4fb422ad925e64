//! The live interface in a real terminal: proctor runs in a tmux pane, keys are
//! sent with send-keys and the screen is read with capture-pane.

use crate::common::*;
use std::process::Command;

/// A tmux server of its own with one 120x30 window running a shell.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(p: &Project, name: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            eprintln!("note: tmux is not installed; skipping the terminal test");
            return None;
        }
        let tmux = Tmux {
            socket: marker(name),
        };
        let status = tmux
            .cmd()
            .args([
                "new-session",
                "-d",
                "-x",
                "120",
                "-y",
                "30",
                "-s",
                "t",
                "-c",
            ])
            .arg(&p.dir)
            .arg("sh")
            .env("PROCTOR_STATE_DIR", p.state())
            .env("PS1", "$ ")
            .env_remove("NO_COLOR")
            .env("TERM", "xterm-256color")
            .status()
            .unwrap();
        assert!(status.success(), "tmux did not start");
        Some(tmux)
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    fn keys(&self, keys: &[&str]) {
        let status = self
            .cmd()
            .args(["send-keys", "-t", "t"])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn type_line(&self, line: &str) {
        self.keys(&["-l", line]);
        self.keys(&["Enter"]);
    }

    /// The screen, with escape codes when `colors`.
    fn screen(&self, colors: bool) -> String {
        let mut c = self.cmd();
        c.args(["capture-pane", "-p", "-t", "t"]);
        if colors {
            c.arg("-e");
        }
        String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned()
    }

    fn wait_for(&self, what: &str, colors: bool) -> String {
        let mut screen = String::new();
        wait_until(&format!("{:?} on the screen", what), || {
            screen = self.screen(colors);
            screen.contains(what)
        });
        screen
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

fn slow_suite(p: &Project, m: &str, seconds: f64) {
    for i in 1..=3 {
        p.script(
            &format!("t/{}.t", i),
            &format!("#!/bin/sh\necho 1..1\necho '# step {}'\nperl -e 'select undef, undef, undef, {}' {}\necho ok 1\n", i, seconds, m),
        );
    }
}

#[test]
fn the_status_line_counts_in_color_and_gives_way_to_the_summary() {
    let p = Project::new();
    let m = marker("tmux-status");
    slow_suite(&p, &m, 1.5);
    let tmux = match Tmux::start(&p, "status") {
        Some(t) => t,
        None => return,
    };
    tmux.type_line(&format!(
        "'{}' test -j1 --exec ''; echo EXIT=$?",
        env!("CARGO_BIN_EXE_proctor")
    ));
    tmux.wait_for("[P:0|F:0|A:0|R:1|T:2] ", false);
    let colored = tmux.wait_for("|\x1b[38;5;196mF:0", true);
    assert!(colored.contains("[\x1b[38;5;46mP:0"), "{}", colored);
    assert!(colored.contains("\x1b[38;5;87mR:1"), "{}", colored);
    assert!(colored.contains("\x1b[38;5;181mT:2"), "{}", colored);

    tmux.keys(&["s"]);
    let screen = tmux.wait_for("running jobs:", false);
    assert!(
        screen.contains("t/1.t: # step 1") || screen.contains("t/2.t: # step 2"),
        "{}",
        screen
    );

    tmux.keys(&["?"]);
    tmux.wait_for("keys: s running jobs", false);

    let screen = tmux.wait_for("EXIT=0", false);
    assert!(
        screen.contains("Files: 3 passed, 0 failed, 0 skipped\nEXIT=0"),
        "{}",
        screen
    );
    assert!(
        !screen.lines().any(|l| l.starts_with("[P:")),
        "a status line was left on screen:\n{}",
        screen
    );
}

#[test]
fn ctrl_c_restores_the_terminal() {
    let p = Project::new();
    let m = marker("tmux-ctrl-c");
    slow_suite(&p, &m, 30.0);
    let tmux = match Tmux::start(&p, "ctrl-c") {
        Some(t) => t,
        None => return,
    };
    tmux.type_line(&format!(
        "'{}' test -j2 --exec ''; echo EXIT=$?",
        env!("CARGO_BIN_EXE_proctor")
    ));
    tmux.wait_for("R:2|T:1]", false);
    // While it runs, keys come one at a time, unechoed.
    let tty = String::from_utf8_lossy(
        &tmux
            .cmd()
            .args(["display", "-p", "-t", "t", "#{pane_tty}"])
            .output()
            .unwrap()
            .stdout,
    )
    .trim()
    .to_string();
    let during = String::from_utf8_lossy(
        &Command::new("stty")
            .args(["-a", "-F", &tty])
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned();
    assert!(
        during.contains("-icanon") && during.contains("-echo "),
        "keys mode is not on:\n{}",
        during
    );
    tmux.keys(&["C-c"]);
    let screen = tmux.wait_for("EXIT=130", false);
    assert!(screen.contains("Interrupted by SIGINT"), "{}", screen);
    tmux.type_line(
        "stty -a | tr ' ' '\\n' | grep -x -e icanon -e echo | tr '\\n' ' '; echo ST\"\"TY",
    );
    let screen = tmux.wait_for("STTY", false);
    assert!(
        screen.contains("icanon echo STTY"),
        "the terminal was not restored:\n{}",
        screen
    );
    wait_until("the tests to end", || !running(&m));
}

#[test]
fn p_pauses_starting_new_tests() {
    let p = Project::new();
    let m = marker("tmux-pause");
    slow_suite(&p, &m, 0.5);
    let tmux = match Tmux::start(&p, "pause") {
        Some(t) => t,
        None => return,
    };
    tmux.type_line(&format!(
        "'{}' test -j1 --exec ''; echo EXIT=$?",
        env!("CARGO_BIN_EXE_proctor")
    ));
    tmux.wait_for("R:1|T:2]", false);
    tmux.keys(&["p"]);
    tmux.wait_for("paused", false);
    // The running test finishes; nothing new starts while paused.
    tmux.wait_for("R:0|T:2]", false);
    std::thread::sleep(std::time::Duration::from_millis(800));
    assert!(
        tmux.screen(false).contains("R:0|T:2]"),
        "a test started while paused"
    );
    tmux.keys(&["p"]);
    tmux.wait_for("EXIT=0", false);
}

#[test]
fn f_lists_a_running_file_that_failed_already_and_q_says_it_stopped() {
    let p = Project::new();
    let m = marker("tmux-f-q");
    p.script(
        "t/failing.t",
        &format!(
            "#!/bin/sh\necho 1..2\necho 'not ok 1 - the answer'\nperl -e 'sleep 30' {}\necho ok 2\n",
            m
        ),
    );
    let tmux = match Tmux::start(&p, "f-q") {
        Some(t) => t,
        None => return,
    };
    tmux.type_line(&format!(
        "'{}' test -j1 --exec ''; echo EXIT=$?",
        env!("CARGO_BIN_EXE_proctor")
    ));
    tmux.wait_for("R:1|T:0]", false);
    // The failure is in the log once the status line has seen it: ask until
    // it is listed.
    wait_until("f to list the running failure", || {
        tmux.keys(&["f"]);
        std::thread::sleep(std::time::Duration::from_millis(200));
        tmux.screen(false)
            .contains("t/failing.t (still running, 1 failed so far): not ok 1 - the answer")
    });
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("EXIT=130", false);
    assert!(screen.contains("Stopped by the q key"), "{}", screen);
    wait_until("the test to end", || !running(&m));
}

#[test]
fn a_flaky_file_under_flaky_fails_counts_as_f_and_is_listed_once() {
    let p = Project::new();
    let m = marker("tmux-flaky");
    p.script("t/1-flaky.t", FLAKY).script(
        "t/2-slow.t",
        &format!(
            "#!/bin/sh\necho 1..1\nperl -e 'sleep 30' {}\necho ok 1\n",
            m
        ),
    );
    let tmux = match Tmux::start(&p, "flaky") {
        Some(t) => t,
        None => return,
    };
    tmux.type_line(&format!(
        "'{}' test -j2 --retry 1 --flaky-fails --exec ''; echo EXIT=$?",
        env!("CARGO_BIN_EXE_proctor")
    ));
    tmux.wait_for("[P:0|F:1|A:0|R:1|T:0]", false);
    tmux.keys(&["f"]);
    let screen = tmux.wait_for("failures so far:", false);
    // Its failed first try is not listed: it was tried again.
    assert!(
        screen.contains("failures so far:\n  t/1-flaky.t: flaky: failed, then passed on try 2;"),
        "{}",
        screen
    );
    assert_eq!(screen.matches("  t/1-flaky.t:").count(), 1, "{}", screen);
    tmux.keys(&["q"]);
    tmux.wait_for("EXIT=130", false);
    wait_until("the test to end", || !running(&m));
}

#[test]
fn qvf_on_the_status_line_shows_a_failing_files_output_replayed() {
    let p = Project::new();
    p.script(
        "t/chatty.t",
        "#!/bin/sh\necho 1..1\nfor i in 1 2 3; do echo \"# said $i\"; done\necho 'not ok 1 - last'\n",
    );
    let tmux = match Tmux::start(&p, "qvf") {
        Some(t) => t,
        None => return,
    };
    tmux.type_line(&format!(
        "'{}' test --qvf --exec ''; echo EXIT=$?",
        env!("CARGO_BIN_EXE_proctor")
    ));
    let screen = tmux.wait_for("EXIT=1", false);
    assert!(
        screen.contains("t/chatty.t .. Failed 1/1 subtests\n    1..1\n    # said 1\n    # said 2\n    # said 3\n    not ok 1 - last\n"),
        "{}",
        screen
    );
}
