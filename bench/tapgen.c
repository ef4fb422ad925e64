/* tapgen N: a TAP producer for the throughput case: "1..N", then N lines
 * "ok I - a description of test point NNNNNNN" (48 bytes at 6 digits), written
 * in 64 KiB blocks so the producer costs next to nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char buf[1 << 16];

static void put(size_t *len)
{
    size_t off = 0;
    while (off < *len) {
        ssize_t w = write(1, buf + off, *len - off);
        if (w <= 0) exit(1);
        off += (size_t)w;
    }
    *len = 0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    size_t len = (size_t)snprintf(buf, sizeof buf, "1..%ld\n", n);
    for (long i = 1; i <= n; i++) {
        if (len + 128 > sizeof buf) put(&len);
        len += (size_t)snprintf(buf + len, 128, "ok %ld - a description of test point %07ld\n", i, i);
    }
    put(&len);
    return 0;
}
