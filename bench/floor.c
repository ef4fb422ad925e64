/* floor: the bare floor proctor is measured against.
 *
 *   floor [-j N] [-p] FILE...
 *
 * fork/execs each FILE itself (no interpreter), N at a time (default 2), stdin
 * /dev/null, stdout and stderr to /dev/null, and waits for all of them.  With -p
 * the children's stdout goes into a pipe that the floor reads and throws away
 * instead: the least any harness must do to see the output (case b).
 * Exit status: 0 when every child exited 0, 1 otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXJ 64

static char buf[1 << 16];

int main(int argc, char **argv)
{
    int jobs = 2, piped = 0, opt;
    while ((opt = getopt(argc, argv, "j:p")) != -1) {
        if (opt == 'j') jobs = atoi(optarg);
        else if (opt == 'p') piped = 1;
        else { fprintf(stderr, "usage: floor [-j N] [-p] FILE...\n"); return 2; }
    }
    if (jobs < 1 || jobs > MAXJ) { fprintf(stderr, "floor: -j 1..%d\n", MAXJ); return 2; }
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0) { perror("floor: /dev/null"); return 2; }

    pid_t pids[MAXJ] = {0};
    int fds[MAXJ];
    int running = 0, next = optind, failed = 0;
    for (int i = 0; i < MAXJ; i++) fds[i] = -1;

    while (next < argc || running > 0) {
        /* fill free slots */
        for (int s = 0; s < jobs && next < argc; s++) {
            if (pids[s]) continue;
            int p[2] = {-1, -1};
            if (piped && pipe2(p, O_CLOEXEC) < 0) { perror("floor: pipe"); return 2; }
            pid_t pid = fork();
            if (pid < 0) { perror("floor: fork"); return 2; }
            if (pid == 0) {
                dup2(null, 0);
                dup2(piped ? p[1] : null, 1);
                dup2(null, 2);
                execl(argv[next], argv[next], (char *)0);
                _exit(errno == ENOENT ? 127 : 126);
            }
            if (piped) { close(p[1]); fds[s] = p[0]; }
            pids[s] = pid;
            running++;
            next++;
        }
        if (piped) {
            /* drain pipes until one hits EOF, then reap that child */
            struct pollfd pf[MAXJ];
            int map[MAXJ], n = 0;
            for (int s = 0; s < jobs; s++)
                if (fds[s] >= 0) { pf[n].fd = fds[s]; pf[n].events = POLLIN; map[n++] = s; }
            if (n > 0) {
                if (poll(pf, n, -1) < 0 && errno != EINTR) { perror("floor: poll"); return 2; }
                int eof = 0;
                for (int k = 0; k < n; k++) {
                    if (!pf[k].revents) continue;
                    ssize_t r = read(pf[k].fd, buf, sizeof buf);
                    if (r <= 0) { close(pf[k].fd); fds[map[k]] = -1; eof = 1; }
                }
                if (!eof) continue;
            }
        }
        int st;
        pid_t pid;
        /* reap every slot whose pipe is closed (or all, unpiped) */
        while (running > 0) {
            pid = waitpid(-1, &st, 0);
            if (pid < 0) { if (errno == EINTR) continue; perror("floor: wait"); return 2; }
            int s;
            for (s = 0; s < jobs && pids[s] != pid; s++) ;
            if (s == jobs) continue;
            if (fds[s] >= 0) { /* child exited before its pipe drained: drain now */
                while (read(fds[s], buf, sizeof buf) > 0) ;
                close(fds[s]); fds[s] = -1;
            }
            pids[s] = 0;
            running--;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) failed = 1;
            break;
        }
    }
    return failed;
}
