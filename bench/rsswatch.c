/* rsswatch ROOTPID [INTERVAL_MS]: sample the peak RSS (VmHWM) of every proctor
 * process in ROOTPID's tree until ROOTPID exits or turns zombie, then print one
 * line:
 *
 *   overlord=KiB runner=KiB auditor=KiB auditors=N launcher=KiB samples=N
 *
 * Roles come from the tree and the names proctor gives its processes: ROOTPID
 * is the interface+overlord, its "proctor" child the runner, the runner's
 * "proctor-launch" child the launcher and its "proctor" or "proctor-audit"
 * children the auditors (a proctor process one level further down is a test
 * between fork and exec, and is not counted).
 * VmHWM only grows, so a long-lived process's last sample is its peak; a
 * short-lived auditor may be missed or caught early: "auditors" says how many
 * were seen.  Sampling runs on the same 2 cores: never time a run that is being
 * sampled. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXP 4096
#define MAXSEEN 65536

enum name { PROCTOR, AUDIT, LAUNCH };
struct proc { int pid, ppid; long hwm; enum name name; };

static int seen[MAXSEEN], nseen;

static int read_status(int pid, struct proc *p, char *state)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int got = 0;
    p->pid = pid; p->ppid = 0; p->hwm = 0; *state = '?';
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "Name:", 5)) {
            char *n = line + 5;
            while (*n == ' ' || *n == '\t') n++;
            if (!strcmp(n, "proctor\n")) p->name = PROCTOR;
            else if (!strcmp(n, "proctor-audit\n")) p->name = AUDIT;
            else if (!strcmp(n, "proctor-launch\n")) p->name = LAUNCH;
            else { fclose(f); return 1; }
            got = 1;
        } else if (!strncmp(line, "State:", 6)) {
            char *s = line + 6;
            while (*s == ' ' || *s == '\t') s++;
            *state = *s;
        } else if (!strncmp(line, "PPid:", 5)) p->ppid = atoi(line + 5);
        else if (!strncmp(line, "VmHWM:", 6)) p->hwm = atol(line + 6);
    }
    fclose(f);
    return got ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: rsswatch ROOTPID [INTERVAL_MS]\n"); return 2; }
    int root = atoi(argv[1]);
    long ms = argc > 2 ? atol(argv[2]) : 50;
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    long max[4] = {0, 0, 0, 0};
    long samples = 0;
    static struct proc ps[MAXP];

    /* The root is forked by bench/run and may not have exec'd proctor yet:
     * wait (up to 5 s) until it bears the name, or the first sample would
     * find no proctor and end the watch at once. */
    for (int i = 0; i < 500; i++) {
        char path[64], name[32] = "";
        snprintf(path, sizeof path, "/proc/%d/comm", root);
        FILE *f = fopen(path, "r");
        if (!f) break;
        int got = fgets(name, sizeof name, f) != 0;
        fclose(f);
        if (got && !strncmp(name, "proctor", 7)) break;
        struct timespec pause = { 0, 10 * 1000000L };
        nanosleep(&pause, 0);
    }

    for (;;) {
        int n = 0, runner = 0, root_alive = 0;
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d)) && n < MAXP) {
            int pid = atoi(e->d_name);
            char state;
            if (pid <= 0) continue;
            if (read_status(pid, &ps[n], &state) != 0) continue;
            if (pid == root && state != 'Z' && state != 'X') root_alive = 1;
            if (ps[n].hwm > 0) n++;
        }
        if (d) closedir(d);
        if (!root_alive) break;
        samples++;
        for (int i = 0; i < n; i++) {
            if (ps[i].pid == root) { if (ps[i].hwm > max[0]) max[0] = ps[i].hwm; }
            else if (ps[i].ppid == root && ps[i].name == PROCTOR) { runner = ps[i].pid; if (ps[i].hwm > max[1]) max[1] = ps[i].hwm; }
        }
        for (int i = 0; runner && i < n; i++) {
            if (ps[i].ppid != runner) continue;
            if (ps[i].name == LAUNCH) { if (ps[i].hwm > max[3]) max[3] = ps[i].hwm; continue; }
            if (ps[i].hwm > max[2]) max[2] = ps[i].hwm;
            int k;
            for (k = 0; k < nseen && seen[k] != ps[i].pid; k++) ;
            if (k == nseen && nseen < MAXSEEN) seen[nseen++] = ps[i].pid;
        }
        nanosleep(&ts, 0);
    }
    printf("overlord=%ld runner=%ld auditor=%ld auditors=%d launcher=%ld samples=%ld\n",
           max[0], max[1], max[2], nseen, max[3], samples);
    return 0;
}
