/* test_identity.c - the persistent identity file. */
#define _GNU_SOURCE  /* nftw */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "p2p/crypto.h"
#include "p2p/error.h"
#include "p2p/peerid.h"
#include "testutil.h"

/* Each test gets a fresh directory, removed afterwards. */
static const char *tmp;

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    remove(p);
    return 0;
}

static void setup(void)
{
    tmp = p2p_test_tmpdir();
    ck_assert_ptr_nonnull(tmp);
}

static void teardown(void)
{
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *path_in(const char *dir, const char *rel)
{
    static char buf[4][512];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", dir, rel);
    return p;
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    ck_assert_int_eq(fchmod(fd, mode), 0);
    close(fd);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

START_TEST(create_then_reload)
{
    const char *dir = tmp;
    const char *path = path_in(dir, "a/b/identity.key");
    p2p_keypair kp1, kp2;
    int fd1 = -1, fd2 = -1;
    char err[256] = "";

    ck_assert_int_eq(p2p_identity_open(path, &kp1, &fd1, err, sizeof err), 0);
    ck_assert_int_ge(fd1, 0);
    /* The lock fd is close-on-exec. */
    ck_assert_int_ne(fcntl(fd1, F_GETFD) & FD_CLOEXEC, 0);

    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(st.st_size, P2P_PRIVKEY_PB_LEN);
    /* Missing parents were created 0700; no temporary file remains. */
    ck_assert_int_eq(stat(path_in(dir, "a"), &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0700);
    ck_assert_int_eq(stat(path_in(dir, "a/b"), &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0700);
    ck_assert_int_eq(count_entries(path_in(dir, "a/b")), 1);

    /* The content is the PrivateKey protobuf of the key. */
    size_t len;
    char *content = p2p_test_read_file(path, &len);
    uint8_t enc[P2P_PRIVKEY_PB_LEN];
    ck_assert_int_eq(p2p_privkey_encode(&kp1, enc), P2P_PRIVKEY_PB_LEN);
    ck_assert_uint_eq(len, sizeof enc);
    ck_assert_mem_eq(content, enc, sizeof enc);
    free(content);

    close(fd1);
    ck_assert_int_eq(p2p_identity_open(path, &kp2, &fd2, err, sizeof err), 0);
    ck_assert_mem_eq(&kp1, &kp2, sizeof kp1);
    close(fd2);

    /* Without lock_fd the key is still loaded. */
    memset(&kp2, 0, sizeof kp2);
    ck_assert_int_eq(p2p_identity_open(path, &kp2, NULL, err, sizeof err), 0);
    ck_assert_mem_eq(&kp1, &kp2, sizeof kp1);
}
END_TEST

START_TEST(loads_spec_key)
{
    /* A key file written by another implementation (the spec's vector). */
    static const char hex[] =
        "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d"
        "1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
    uint8_t b[68];
    ck_assert_int_eq(p2p_test_unhex(hex, b, sizeof b), 68);
    const char *path = path_in(tmp, "identity.key");
    write_file(path, b, sizeof b, 0600);
    p2p_keypair kp;
    int fd = -1;
    ck_assert_int_eq(p2p_identity_open(path, &kp, &fd, NULL, 0), 0);
    ck_assert_mem_eq(kp.sk, b + 4, 64);
    close(fd);
}
END_TEST

START_TEST(refuses_open_permissions)
{
    const char *path = path_in(tmp, "identity.key");
    p2p_keypair kp;
    int fd = -1;
    char err[512] = "";
    ck_assert_int_eq(p2p_identity_open(path, &kp, &fd, err, sizeof err), 0);
    close(fd);

    const mode_t bad[] = {0644, 0640, 0604, 0660, 0602, 0700 | 0020};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(chmod(path, bad[i]), 0);
        err[0] = 0;
        fd = 12345;
        ck_assert_int_eq(p2p_identity_open(path, &kp, &fd, err, sizeof err), P2P_EPERM);
        ck_assert_int_eq(fd, -1);
        ck_assert_ptr_nonnull(strstr(err, path));
        ck_assert_ptr_nonnull(strstr(err, "chmod 600"));
    }
    chmod(path, 0644);
    p2p_identity_open(path, &kp, &fd, err, sizeof err);
    ck_assert_ptr_nonnull(strstr(err, "(mode 0644)"));
    /* 0400 is fine: only the owner can read it. */
    ck_assert_int_eq(chmod(path, 0400), 0);
    ck_assert_int_eq(p2p_identity_open(path, &kp, &fd, err, sizeof err), 0);
    close(fd);
}
END_TEST

START_TEST(second_open_is_busy)
{
    const char *path = path_in(tmp, "identity.key");
    p2p_keypair kp1, kp2;
    int fd1 = -1, fd2 = -1;
    char err[512] = "";
    ck_assert_int_eq(p2p_identity_open(path, &kp1, &fd1, err, sizeof err), 0);
    /* flock locks belong to the open file description, so a second open
     * in this process conflicts just like another process would. */
    ck_assert_int_eq(p2p_identity_open(path, &kp2, &fd2, err, sizeof err), P2P_EBUSY);
    ck_assert_int_eq(fd2, -1);
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_ptr_nonnull(strstr(err, "in use by another process"));
    ck_assert_int_eq(p2p_identity_open(path, &kp2, NULL, err, sizeof err), P2P_EBUSY);
    /* Closing the lock fd releases it. */
    close(fd1);
    ck_assert_int_eq(p2p_identity_open(path, &kp2, &fd2, err, sizeof err), 0);
    ck_assert_mem_eq(&kp1, &kp2, sizeof kp1);
    close(fd2);
}
END_TEST

static void expect_rejected(const char *dir, const char *name, const void *data, size_t len,
                            int want, const char *cause)
{
    const char *path = path_in(dir, name);
    write_file(path, data, len, 0600);
    p2p_keypair kp;
    int fd = 12345;
    char err[512] = "";
    ck_assert_int_eq(p2p_identity_open(path, &kp, &fd, err, sizeof err), want);
    ck_assert_int_eq(fd, -1);
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_msg(strstr(err, cause), "'%s' does not say '%s'", err, cause);
    /* A bad file is never replaced. */
    size_t n;
    char *again = p2p_test_read_file(path, &n);
    ck_assert_uint_eq(n, len);
    if (len) ck_assert_mem_eq(again, data, len);
    free(again);
}

START_TEST(rejects_corrupt_files)
{
    const char *dir = tmp;
    p2p_keypair kp;
    uint8_t good[P2P_PRIVKEY_PB_LEN];
    p2p_keypair_from_seed_byte(&kp, 7);
    ck_assert_int_eq(p2p_privkey_encode(&kp, good), P2P_PRIVKEY_PB_LEN);

    expect_rejected(dir, "empty", "", 0, P2P_EINVAL, "empty");
    expect_rejected(dir, "text", "hello world\n", 12, P2P_EINVAL, "corrupt");
    expect_rejected(dir, "short", good, sizeof good - 1, P2P_EINVAL, "corrupt");
    uint8_t longer[sizeof good + 1];
    memcpy(longer, good, sizeof good);
    longer[sizeof good] = '\n';
    expect_rejected(dir, "trailing", longer, sizeof longer, P2P_EINVAL, "corrupt");
    uint8_t bad[sizeof good];
    memcpy(bad, good, sizeof good);
    bad[sizeof bad - 1] ^= 0x40;  /* public half no longer matches */
    expect_rejected(dir, "mismatch", bad, sizeof bad, P2P_EINVAL, "corrupt");
    static uint8_t huge[10000];
    expect_rejected(dir, "huge", huge, sizeof huge, P2P_EINVAL, "corrupt");
    /* A secp256k1 key from go-libp2p: well-formed, but not ours. */
    uint8_t secp[36] = {0x08, 0x02, 0x12, 0x20, 0x53, 0xda};
    expect_rejected(dir, "secp", secp, sizeof secp, P2P_EUNSUPPORTED, "Ed25519");
}
END_TEST

START_TEST(not_a_regular_file)
{
    const char *dir = tmp;
    const char *path = path_in(dir, "sub");
    ck_assert_int_eq(mkdir(path, 0700), 0);
    p2p_keypair kp;
    int fd = -1;
    char err[512] = "";
    ck_assert_int_lt(p2p_identity_open(path, &kp, &fd, err, sizeof err), 0);
    ck_assert_int_eq(fd, -1);
    ck_assert_ptr_nonnull(strstr(err, path));
    /* The parent "directory" is a file: creation fails, naming the file. */
    const char *f = path_in(dir, "plain");
    write_file(f, "x", 1, 0600);
    const char *under = path_in(dir, "plain/identity.key");
    err[0] = 0;
    ck_assert_int_lt(p2p_identity_open(under, &kp, &fd, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, under));
    ck_assert_int_eq(p2p_identity_open("", &kp, &fd, err, sizeof err), P2P_EINVAL);
}
END_TEST

START_TEST(default_path)
{
    char out[512];
    setenv("XDG_DATA_HOME", "/xdg/data", 1);
    setenv("HOME", "/home/alice", 1);
    ck_assert_int_eq(p2p_identity_default_path(out, sizeof out), 0);
    ck_assert_str_eq(out, "/xdg/data/p2pchat/identity.key");
    ck_assert_int_eq(p2p_identity_default_path(out, 10), P2P_ERANGE);

    /* Empty or relative XDG_DATA_HOME is ignored (XDG spec). */
    setenv("XDG_DATA_HOME", "", 1);
    ck_assert_int_eq(p2p_identity_default_path(out, sizeof out), 0);
    ck_assert_str_eq(out, "/home/alice/.local/share/p2pchat/identity.key");
    setenv("XDG_DATA_HOME", "relative/dir", 1);
    ck_assert_int_eq(p2p_identity_default_path(out, sizeof out), 0);
    ck_assert_str_eq(out, "/home/alice/.local/share/p2pchat/identity.key");
    unsetenv("XDG_DATA_HOME");
    ck_assert_int_eq(p2p_identity_default_path(out, sizeof out), 0);
    ck_assert_str_eq(out, "/home/alice/.local/share/p2pchat/identity.key");

    unsetenv("HOME");
    ck_assert_int_eq(p2p_identity_default_path(out, sizeof out), P2P_EINVAL);
}
END_TEST

START_TEST(fresh_identities_differ)
{
    const char *dir = tmp;
    p2p_keypair a, b;
    ck_assert_int_eq(p2p_identity_open(path_in(dir, "a.key"), &a, NULL, NULL, 0), 0);
    ck_assert_int_eq(p2p_identity_open(path_in(dir, "b.key"), &b, NULL, NULL, 0), 0);
    ck_assert(memcmp(a.pk, b.pk, sizeof a.pk) != 0);
}
END_TEST

static Suite *identity_suite(void)
{
    Suite *s = suite_create("identity");
    TCase *tc = tcase_create("file");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, create_then_reload);
    tcase_add_test(tc, loads_spec_key);
    tcase_add_test(tc, refuses_open_permissions);
    tcase_add_test(tc, second_open_is_busy);
    tcase_add_test(tc, rejects_corrupt_files);
    tcase_add_test(tc, not_a_regular_file);
    tcase_add_test(tc, default_path);
    tcase_add_test(tc, fresh_identities_differ);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(identity_suite());
}
