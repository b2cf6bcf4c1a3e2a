/* handshake.c - ceiling: the CPU cost of one connection's public-key
 * cryptography, measured with libsodium (what the noise plugin and the
 * core's p2p_keypair_sign / p2p_pubkey_verify use).
 *
 *   handshake [ITERATIONS]     (default 2000 of each operation)
 *
 * One side of a Noise_XX_25519 handshake with Ed25519 identity keys, as
 * plugins/noise and plugins/identify do it:
 *   - 1 X25519 key generation (scalarmult_base): the ephemeral key (the
 *     static key and the payload's signature are made once per host by
 *     the noise plugin, as rust-libp2p and go-libp2p do);
 *   - 3 X25519 DH: ee, es and se (initiator: ee, es from our e and their
 *     s, se from our s and their e; the responder the mirror image);
 *   - 0 Ed25519 signatures per connection (the handshake payload's
 *     identity_sig over "noise-libp2p-static-key:" || static public key
 *     is made once per host; its cost is still timed and printed);
 *   - 2 Ed25519 verifications: the remote's handshake payload and the
 *     remote's signed peer record in identify (our own record is sealed
 *     once and cached by the identify plugin, so signing it costs nothing
 *     per connection).
 * A connection costs both sides' operations; the ceiling is how many
 * complete connections (both ends) one core could set up per second if it
 * did nothing but this cryptography. The hashing (SHA-256/HKDF of the
 * symmetric state) and the AEAD of the handshake messages are left out:
 * a few microseconds, counted against the implementation, not the ceiling.
 *
 * Prints one JSON line: microseconds per operation (CPU time of this
 * process: a shared machine steals wall time), the per-side and
 * per-connection costs and handshakesPerCoreSecond. Built with
 * -DWITH_OPENSSL (and -lcrypto) it also times OpenSSL's X25519 and Ed25519
 * for comparison (the noise plugin uses OpenSSL only for its AEAD). */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef WITH_OPENSSL
#include <openssl/evp.h>
#endif

/* Operation counts per side, from the description above. */
#define KEYGEN_PER_SIDE 1
#define DH_PER_SIDE 3
#define SIGN_PER_SIDE 0
#define VERIFY_PER_SIDE 2
/* "noise-libp2p-static-key:" (24 bytes) + the 32-byte X25519 key */
#define NOISE_SIGNED_LEN 56
/* a signed peer record envelope's signed part with two addresses */
#define RECORD_SIGNED_LEN 160

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* the loops' results go here, so that the compiler keeps the loops */
static volatile unsigned char sink;

struct costs {
    double keygen, dh, sign, verify_noise, verify_record;   /* microseconds each */
};

static int time_sodium(unsigned n, struct costs *c)
{
    unsigned char a[32], b[32], pub[32], shared[32], acc = 0;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES], sig[crypto_sign_BYTES];
    unsigned char msg[RECORD_SIGNED_LEN];
    randombytes_buf(a, sizeof a);
    randombytes_buf(b, sizeof b);
    randombytes_buf(msg, sizeof msg);
    crypto_scalarmult_base(pub, b);

    double t0 = cpu_now();
    for (unsigned i = 0; i < n; i++) {
        a[0] ^= (unsigned char)i;   /* a new scalar each time, as a fresh key */
        crypto_scalarmult_base(shared, a);
        acc ^= shared[0];
    }
    c->keygen = (cpu_now() - t0) * 1e6 / n;

    t0 = cpu_now();
    for (unsigned i = 0; i < n; i++) {
        a[0] ^= (unsigned char)i;
        if (crypto_scalarmult(shared, a, pub) != 0) return -1;
        acc ^= shared[0];
    }
    c->dh = (cpu_now() - t0) * 1e6 / n;

    crypto_sign_keypair(pk, sk);
    t0 = cpu_now();
    for (unsigned i = 0; i < n; i++) {
        msg[0] = (unsigned char)i;
        crypto_sign_detached(sig, NULL, msg, NOISE_SIGNED_LEN, sk);
        acc ^= sig[0];
    }
    c->sign = (cpu_now() - t0) * 1e6 / n;

    crypto_sign_detached(sig, NULL, msg, NOISE_SIGNED_LEN, sk);
    t0 = cpu_now();
    for (unsigned i = 0; i < n; i++)
        if (crypto_sign_verify_detached(sig, msg, NOISE_SIGNED_LEN, pk) != 0) return -1;
    c->verify_noise = (cpu_now() - t0) * 1e6 / n;

    crypto_sign_detached(sig, NULL, msg, RECORD_SIGNED_LEN, sk);
    t0 = cpu_now();
    for (unsigned i = 0; i < n; i++)
        if (crypto_sign_verify_detached(sig, msg, RECORD_SIGNED_LEN, pk) != 0) return -1;
    c->verify_record = (cpu_now() - t0) * 1e6 / n;
    sink = acc;   /* keeps the loops' results alive */
    return 0;
}

static double side_us(const struct costs *c)
{
    return KEYGEN_PER_SIDE * c->keygen + DH_PER_SIDE * c->dh + SIGN_PER_SIDE * c->sign + c->verify_noise +
           (VERIFY_PER_SIDE - 1) * c->verify_record;
}

#ifdef WITH_OPENSSL
/* OpenSSL's X25519 (keygen + derive) and Ed25519 (sign + verify), the same
 * counts; -1 on any error. */
static int time_openssl(unsigned n, struct costs *c)
{
    EVP_PKEY *x = NULL, *peer = NULL, *ed = NULL;
    EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
    int rc = -1;
    if (!kctx || EVP_PKEY_keygen_init(kctx) <= 0 || EVP_PKEY_keygen(kctx, &peer) <= 0) goto out;
    double t0 = cpu_now();
    for (unsigned i = 0; i < n; i++) {
        EVP_PKEY_free(x);
        x = NULL;
        if (EVP_PKEY_keygen(kctx, &x) <= 0) goto out;
    }
    c->keygen = (cpu_now() - t0) * 1e6 / n;
    unsigned char shared[32], sig[64], msg[RECORD_SIGNED_LEN];
    size_t len;
    t0 = cpu_now();
    for (unsigned i = 0; i < n; i++) {
        EVP_PKEY_CTX *d = EVP_PKEY_CTX_new(x, NULL);
        len = sizeof shared;
        int ok = d && EVP_PKEY_derive_init(d) > 0 && EVP_PKEY_derive_set_peer(d, peer) > 0 &&
                 EVP_PKEY_derive(d, shared, &len) > 0;
        EVP_PKEY_CTX_free(d);
        if (!ok) goto out;
    }
    c->dh = (cpu_now() - t0) * 1e6 / n;

    EVP_PKEY_CTX *ectx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    int ok = ectx && EVP_PKEY_keygen_init(ectx) > 0 && EVP_PKEY_keygen(ectx, &ed) > 0;
    EVP_PKEY_CTX_free(ectx);
    if (!ok) goto out;
    memset(msg, 7, sizeof msg);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md) goto out;
    double *slot[3] = { &c->sign, &c->verify_noise, &c->verify_record };
    for (int k = 0; k < 3 && md; k++) {
        size_t mlen = k == 2 ? RECORD_SIGNED_LEN : NOISE_SIGNED_LEN;
        len = sizeof sig;
        if (EVP_DigestSignInit(md, NULL, NULL, NULL, ed) <= 0 || EVP_DigestSign(md, sig, &len, msg, mlen) <= 0) break;
        t0 = cpu_now();
        for (unsigned i = 0; i < n; i++) {
            int r = k == 0 ? EVP_DigestSignInit(md, NULL, NULL, NULL, ed) > 0 &&
                                 EVP_DigestSign(md, sig, &len, msg, mlen) > 0
                           : EVP_DigestVerifyInit(md, NULL, NULL, NULL, ed) > 0 &&
                                 EVP_DigestVerify(md, sig, len, msg, mlen) == 1;
            if (!r) goto out_md;
        }
        *slot[k] = (cpu_now() - t0) * 1e6 / n;
        if (k == 2) rc = 0;
    }
out_md:
    EVP_MD_CTX_free(md);
out:
    EVP_PKEY_free(x);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(ed);
    EVP_PKEY_CTX_free(kctx);
    return rc;
}
#endif

int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000;
    if (n == 0 || n > 10000000 || sodium_init() < 0) {
        fprintf(stderr, "usage: handshake [ITERATIONS 1..10000000]\n");
        return 2;
    }
    struct costs c;
    if (time_sodium((unsigned)n, &c) != 0) {
        fprintf(stderr, "handshake: libsodium operation failed\n");
        return 1;
    }
    double side = side_us(&c);
    printf("{\"type\":\"handshake-crypto\",\"iterations\":%lu,\"x25519KeygenUs\":%.2f,\"x25519DhUs\":%.2f,"
           "\"ed25519SignUs\":%.2f,\"ed25519VerifyUs\":%.2f,\"ed25519VerifyRecordUs\":%.2f,"
           "\"perSide\":{\"x25519Keygen\":%d,\"x25519Dh\":%d,\"ed25519Sign\":%d,\"ed25519Verify\":%d},"
           "\"sideUs\":%.2f,\"connectionUs\":%.2f,\"handshakesPerCoreSecond\":%.1f",
           n, c.keygen, c.dh, c.sign, c.verify_noise, c.verify_record, KEYGEN_PER_SIDE, DH_PER_SIDE,
           SIGN_PER_SIDE, VERIFY_PER_SIDE, side, 2 * side, 1e6 / (2 * side));
#ifdef WITH_OPENSSL
    struct costs o;
    if (time_openssl((unsigned)n, &o) == 0)
        printf(",\"openssl\":{\"x25519KeygenUs\":%.2f,\"x25519DhUs\":%.2f,\"ed25519SignUs\":%.2f,"
               "\"ed25519VerifyUs\":%.2f,\"ed25519VerifyRecordUs\":%.2f,\"connectionUs\":%.2f,"
               "\"handshakesPerCoreSecond\":%.1f}",
               o.keygen, o.dh, o.sign, o.verify_noise, o.verify_record, 2 * side_us(&o), 1e6 / (2 * side_us(&o)));
#endif
    printf("}\n");
    return 0;
}
