/* testutil.h - shared helpers for the check suites. */
#ifndef P2P_TESTUTIL_H
#define P2P_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

/* P2P_TEST_SANITIZED: 1 in an AddressSanitizer build, else 0 (bounds and
 * checks that depend on speed or on glibc's allocator). */
#if defined(__SANITIZE_ADDRESS__)
#define P2P_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define P2P_TEST_SANITIZED 1
#endif
#endif
#ifndef P2P_TEST_SANITIZED
#define P2P_TEST_SANITIZED 0
#endif

/* What the core says of a signature made with an RSA, ECDSA or secp256k1
 * key: checked with OpenSSL's libcrypto (P2P_TEST_OTHER_KEYS, set for
 * every test by tests/CMakeLists.txt when the core has it), else
 * unsupported.
 * OTHER_OK for a valid signature, OTHER_BAD for an invalid one. */
#ifdef P2P_TEST_OTHER_KEYS
#define OTHER_OK 0
#define OTHER_BAD P2P_ECRYPTO
#else
#define OTHER_OK P2P_EUNSUPPORTED
#define OTHER_BAD P2P_EUNSUPPORTED
#endif

/* Run one suite (CK_NORMAL output, fork mode from CK_FORK) and return the
 * process exit status: 0 when every test passed. */
int p2p_test_run(Suite *s);

/* Decode a hex string into out; returns bytes written or -1. */
int p2p_test_unhex(const char *hex, uint8_t *out, size_t cap);

/* A fresh empty temporary directory (mkdtemp); the path is static storage
 * valid until the next call. */
const char *p2p_test_tmpdir(void);

/* Read a whole file into a malloc'ed NUL-terminated string, or NULL. */
char *p2p_test_read_file(const char *path, size_t *len);

#endif
