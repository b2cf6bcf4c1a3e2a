/* tcp.c - ceiling: raw TCP throughput over loopback, one connection, two
 * processes (like the libp2p peers: a sender and a receiver, each on its
 * own core if the scheduler lets it), 64 KiB writes and reads, no
 * encryption, no framing.
 *
 *   tcp [BYTES]      (default 1 GiB)
 *
 * Prints {"type":"tcp","bytes":..,"timeSeconds":..,"MiBs":..}, timed by
 * the receiver from accept to EOF. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    uint64_t total = argc > 1 ? strtoull(argv[1], NULL, 10) : (1ull << 30);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof sa;
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 1) ||
        getsockname(ls, (struct sockaddr *)&sa, &sl)) {
        perror("tcp: listen");
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa)) _exit(1);
        int one = 1;
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        static char buf[CHUNK];
        for (uint64_t sent = 0; sent < total;) {
            size_t k = total - sent < CHUNK ? (size_t)(total - sent) : CHUNK;
            ssize_t n = write(s, buf, k);
            if (n <= 0) _exit(1);
            sent += (uint64_t)n;
        }
        close(s);
        _exit(0);
    }
    int c = accept(ls, NULL, NULL);
    if (c < 0) return 1;
    double t0 = now();
    static char buf[CHUNK];
    uint64_t got = 0;
    for (;;) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n < 0) return 1;
        if (n == 0) break;
        got += (uint64_t)n;
    }
    double t = now() - t0;
    int st;
    waitpid(pid, &st, 0);
    if (got != total) {
        fprintf(stderr, "tcp: received %llu of %llu bytes\n", (unsigned long long)got, (unsigned long long)total);
        return 1;
    }
    printf("{\"type\":\"tcp\",\"bytes\":%llu,\"timeSeconds\":%.6f,\"MiBs\":%.1f}\n", (unsigned long long)total, t,
           (double)total / 1048576.0 / t);
    return 0;
}
