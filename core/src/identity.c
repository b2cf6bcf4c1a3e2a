/* identity.c - the persistent identity file (see p2p/peerid.h).
 *
 * The file holds a PrivateKey protobuf, like go-libp2p and rust-libp2p
 * store keys, so a key can be moved between implementations. Rules:
 *  - it is created atomically: the key is written to a temporary file in
 *    the same directory, fsync'ed, and linked into place, so a crash never
 *    leaves a truncated identity behind and two processes creating it at
 *    the same time end up with the same key;
 *  - a file group or others may access is refused, as ssh refuses such a
 *    private key: the key may already be compromised, the user must decide;
 *  - a corrupt file is an error, never silently replaced: replacing it
 *    would change our PeerId behind the user's back;
 *  - the open file is flock'ed, so two processes cannot run with one
 *    identity (peers would see the same PeerId on two connections). */
#define _GNU_SOURCE  /* mkostemp */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "p2p/crypto.h"
#include "p2p/error.h"
#include "p2p/peerid.h"
#include "util.h"

/* An identity file is 68 bytes; anything much larger is not one. */
#define IDENTITY_MAX_SIZE 4096

/* mkdir -p for the directory part of path, creating missing levels with
 * mode 0700 (existing ones are left alone). */
static int make_parents(const char *path, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof dir) {
        p2p_errf(err, errlen, "identity file path %s is too long", path);
        return P2P_ERANGE;
    }
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0;  /* in the current or root directory */
    *slash = 0;
    for (char *p = dir + 1; ; p++) {
        if (*p != '/' && *p != 0) continue;
        char c = *p;
        *p = 0;
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
            p2p_errf(err, errlen, "cannot create directory %s for identity file %s: %s", dir,
                     path, strerror(errno));
            return errno == EACCES ? P2P_EPERM : P2P_EIO;
        }
        if (!c) break;
        *p = c;
    }
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Flush the directory entry of a newly linked file to disk (best effort:
 * some file systems cannot fsync a directory). */
static void sync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof dir) return;
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Create the identity file with a fresh key. Returns 0, P2P_EEXIST when
 * another process created it first (the caller then opens theirs), or an
 * error. */
static int create_identity(const char *path, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path) >= (int)sizeof tmp) {
        p2p_errf(err, errlen, "identity file path %s is too long", path);
        return P2P_ERANGE;
    }
    int rc = make_parents(path, err, errlen);
    if (rc < 0) return rc;

    p2p_keypair kp;
    uint8_t buf[P2P_PRIVKEY_PB_LEN];
    if (p2p_keypair_generate(&kp) < 0) {
        p2p_errf(err, errlen, "cannot generate a key for identity file %s", path);
        return P2P_ECRYPTO;
    }
    int n = p2p_privkey_encode(&kp, buf);
    p2p_keypair_wipe(&kp);

    /* mkostemp opens with O_CREAT|O_EXCL and mode 0600. */
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        sodium_memzero(buf, sizeof buf);
        p2p_errf(err, errlen, "cannot create identity file %s: %s", path, strerror(e));
        return e == EACCES || e == EPERM ? P2P_EPERM : P2P_EIO;
    }
    int ok = fchmod(fd, 0600) == 0 && write_all(fd, buf, (size_t)n) == 0 && fsync(fd) == 0;
    int e = errno;
    sodium_memzero(buf, sizeof buf);
    if (close(fd) < 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        p2p_errf(err, errlen, "cannot write identity file %s: %s", path, strerror(e));
        return P2P_EIO;
    }
    /* link() fails with EEXIST instead of replacing a file another process
     * created meanwhile; rename() is the fallback for file systems without
     * hard links. */
    rc = 0;
    if (link(tmp, path) < 0) {
        e = errno;
        if (e == EEXIST) {
            rc = P2P_EEXIST;
        } else if (rename(tmp, path) == 0) {
            tmp[0] = 0;
        } else {
            e = errno;
            rc = P2P_EIO;
            p2p_errf(err, errlen, "cannot create identity file %s: %s", path, strerror(e));
        }
    }
    if (tmp[0]) unlink(tmp);
    if (rc == 0) sync_parent(path);
    return rc;
}

static int read_identity(int fd, const char *path, p2p_keypair *kp, char *err, size_t errlen)
{
    uint8_t buf[IDENTITY_MAX_SIZE + 1];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            p2p_errf(err, errlen, "cannot read identity file %s: %s", path, strerror(errno));
            sodium_memzero(buf, n);
            return P2P_EIO;
        }
        if (r == 0 || (n += (size_t)r) == sizeof buf) break;
    }
    int rc = p2p_privkey_decode(kp, buf, n);
    sodium_memzero(buf, n);
    if (rc == 0) return 0;
    if (n == 0) {
        p2p_errf(err, errlen, "identity file %s is empty; remove it to create a new identity",
                 path);
    } else if (n > IDENTITY_MAX_SIZE) {
        p2p_errf(err, errlen, "identity file %s is corrupt: larger than %d bytes", path,
                 IDENTITY_MAX_SIZE);
    } else if (rc == P2P_EUNSUPPORTED) {
        p2p_errf(err, errlen,
                 "identity file %s holds a key of a type other than Ed25519, which is not "
                 "supported", path);
        return P2P_EUNSUPPORTED;
    } else {
        p2p_errf(err, errlen,
                 "identity file %s is corrupt: not a libp2p Ed25519 PrivateKey protobuf", path);
    }
    return P2P_EINVAL;
}

P2P_API int p2p_identity_open(const char *path, p2p_keypair *kp, int *lock_fd, char *err,
                              size_t errlen)
{
    if (lock_fd) *lock_fd = -1;
    if (!path || !*path || !kp) {
        p2p_errf(err, errlen, "no identity file path given");
        return P2P_EINVAL;
    }
    int fd = -1;
    /* Bounded: each round either opens the file or creates it; a second
     * round only happens when another process created it concurrently. */
    for (int attempt = 0; attempt < 3 && fd < 0; attempt++) {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0) break;
        if (errno != ENOENT) {
            int e = errno;
            p2p_errf(err, errlen, "cannot open identity file %s: %s", path, strerror(e));
            return e == EACCES ? P2P_EPERM : P2P_EIO;
        }
        int rc = create_identity(path, err, errlen);
        if (rc < 0 && rc != P2P_EEXIST) return rc;
    }
    if (fd < 0) {
        p2p_errf(err, errlen, "cannot open identity file %s: %s", path, strerror(ENOENT));
        return P2P_EIO;
    }

    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0) {
        p2p_errf(err, errlen, "cannot stat identity file %s: %s", path, strerror(errno));
        rc = P2P_EIO;
    } else if (!S_ISREG(st.st_mode)) {
        p2p_errf(err, errlen, "identity file %s is not a regular file", path);
        rc = P2P_EINVAL;
    } else if (st.st_mode & 077) {
        p2p_errf(err, errlen,
                 "identity file %s is accessible by other users (mode %04o); run: chmod 600 %s",
                 path, (unsigned)(st.st_mode & 07777), path);
        rc = P2P_EPERM;
    } else if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK) {
            p2p_errf(err, errlen, "identity file %s is in use by another process", path);
            rc = P2P_EBUSY;
        } else {
            p2p_errf(err, errlen, "cannot lock identity file %s: %s", path, strerror(errno));
            rc = P2P_EIO;
        }
    } else {
        rc = read_identity(fd, path, kp, err, errlen);
    }
    /* Without lock_fd the caller only wants the key: the lock was still
     * taken (so a file in use is reported) and is released here. */
    if (rc < 0 || !lock_fd) close(fd);
    else *lock_fd = fd;
    return rc;
}

P2P_API int p2p_identity_default_path(char *out, size_t cap)
{
    if (!out || !cap) return P2P_EINVAL;
    /* XDG Base Directory spec: a relative $XDG_DATA_HOME is invalid and
     * must be ignored. */
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(out, cap, "%s/p2pchat/identity.key", xdg);
    else if (home && *home)
        n = snprintf(out, cap, "%s/.local/share/p2pchat/identity.key", home);
    else
        return P2P_EINVAL;
    if (n < 0 || (size_t)n >= cap) {
        out[0] = 0;
        return P2P_ERANGE;
    }
    return 0;
}
