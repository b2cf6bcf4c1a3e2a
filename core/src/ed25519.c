/* ed25519.c - Ed25519 verification with precomputed tables (ed25519.h).
 *
 * Field: GF(2^255 - 19) in five 51-bit limbs (unsigned __int128 products).
 * Every fe function leaves its result weakly reduced (limbs below
 * 2^51 + 2^13), which is what fe_mul and fe_sub expect of their inputs.
 * Curve: -x^2 + y^2 = 1 + d x^2 y^2 in extended coordinates (X:Y:Z:T),
 * x = X/Z, y = Y/Z, T = XY/Z ("Twisted Edwards curves revisited",
 * Hisil-Wong-Carter-Dawson 2008: dbl-2008-hwcd and add-2008-hwcd-3).
 *
 * A table holds (m + 1) * 256^j * P for j < 32, m < 8 in affine "niels"
 * form (y + x, y - x, 2dxy): a scalar's 64 signed radix-16 digits then
 * need one table addition each, and the odd digits' sum 4 doublings (the
 * comb that ref10 uses for the base point, here for the key as well). */
#include "ed25519.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;
typedef struct { uint64_t v[5]; } fe;
typedef struct { fe X, Y, Z, T; } ge;
typedef struct { fe ypx, ymx, xy2d; } ge_niels;

#define TABLE_ROWS 32
#define TABLE_COLS 8
#define MASK51 ((UINT64_C(1) << 51) - 1)

struct ed25519_table {
    uint8_t pk[32];
    ge_niels t[TABLE_ROWS][TABLE_COLS];
};

/* ---- field ------------------------------------------------------------------------------------ */

static uint64_t load64(const uint8_t *s)
{
    uint64_t r = 0;
    for (int i = 7; i >= 0; i--) r = (r << 8) | s[i];
    return r;
}

static void fe_set(fe *h, uint64_t v)
{
    memset(h, 0, sizeof *h);
    h->v[0] = v;
}

/* The low 255 bits of s (the top bit is a sign, not part of y). */
static void fe_frombytes(fe *h, const uint8_t s[32])
{
    uint64_t w0 = load64(s), w1 = load64(s + 8), w2 = load64(s + 16), w3 = load64(s + 24);
    h->v[0] = w0 & MASK51;
    h->v[1] = ((w0 >> 51) | (w1 << 13)) & MASK51;
    h->v[2] = ((w1 >> 38) | (w2 << 26)) & MASK51;
    h->v[3] = ((w2 >> 25) | (w3 << 39)) & MASK51;
    h->v[4] = (w3 >> 12) & MASK51;
}

/* Limbs 0-3 carried into the next; limb 4 keeps its excess. */
static inline __attribute__((always_inline)) void fe_carry_up(uint64_t t[5])
{
    for (int i = 0; i < 4; i++) {
        t[i + 1] += t[i] >> 51;
        t[i] &= MASK51;
    }
}

/* Carry so every limb is below 2^51 but limb 1, which may reach 2^51. */
static inline __attribute__((always_inline)) void fe_carry(uint64_t t[5])
{
    fe_carry_up(t);
    t[0] += 19 * (t[4] >> 51);
    t[4] &= MASK51;
    t[1] += t[0] >> 51;
    t[0] &= MASK51;
}

/* The canonical encoding (value mod p, little-endian). */
static void fe_tobytes(uint8_t s[32], const fe *h)
{
    uint64_t t[5];
    memcpy(t, h->v, sizeof t);
    fe_carry(t);
    /* t < 2^255 + 2^51 < 2p: subtract p once if t >= p, i.e. if t + 19
     * carries out of bit 255. */
    uint64_t q = (t[0] + 19) >> 51;
    q = (t[1] + q) >> 51;
    q = (t[2] + q) >> 51;
    q = (t[3] + q) >> 51;
    q = (t[4] + q) >> 51;
    t[0] += 19 * q;
    fe_carry_up(t);
    t[4] &= MASK51;
    uint64_t w[4] = { t[0] | (t[1] << 51), (t[1] >> 13) | (t[2] << 38), (t[2] >> 26) | (t[3] << 25),
                      (t[3] >> 39) | (t[4] << 12) };
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) s[8 * i + j] = (uint8_t)(w[i] >> (8 * j));
}

/* Not carried (limbs below 2^53): fine as an input of fe_mul, fe_sq and
 * as fe_sub's f, not as fe_sub's g; fe_add_carry for that. */
static void fe_add(fe *h, const fe *f, const fe *g)
{
    for (int i = 0; i < 5; i++) h->v[i] = f->v[i] + g->v[i];
}

static void fe_add_carry(fe *h, const fe *f, const fe *g)
{
    fe_add(h, f, g);
    fe_carry(h->v);
}

/* f - g + 4p, limb by limb: no limb goes negative for weakly reduced g. */
static void fe_sub(fe *h, const fe *f, const fe *g)
{
    h->v[0] = f->v[0] + ((MASK51 - 18) << 2) - g->v[0];
    for (int i = 1; i < 5; i++) h->v[i] = f->v[i] + (MASK51 << 2) - g->v[i];
    fe_carry(h->v);
}

static void fe_neg(fe *h, const fe *f)
{
    fe z;
    fe_set(&z, 0);
    fe_sub(h, &z, f);
}

static inline __attribute__((always_inline)) void fe_reduce_wide(fe *h, u128 r0, u128 r1, u128 r2, u128 r3, u128 r4)
{
    r1 += (uint64_t)(r0 >> 51);
    r2 += (uint64_t)(r1 >> 51);
    r3 += (uint64_t)(r2 >> 51);
    r4 += (uint64_t)(r3 >> 51);
    uint64_t c = (uint64_t)(r4 >> 51);
    h->v[0] = ((uint64_t)r0 & MASK51) + 19 * c;
    h->v[1] = ((uint64_t)r1 & MASK51) + (h->v[0] >> 51);
    h->v[0] &= MASK51;
    h->v[2] = (uint64_t)r2 & MASK51;
    h->v[3] = (uint64_t)r3 & MASK51;
    h->v[4] = (uint64_t)r4 & MASK51;
}

static void fe_mul(fe *h, const fe *f, const fe *g)
{
    const uint64_t *a = f->v, *b = g->v;
    uint64_t b1 = 19 * b[1], b2 = 19 * b[2], b3 = 19 * b[3], b4 = 19 * b[4];
    u128 r0 = (u128)a[0] * b[0] + (u128)a[1] * b4 + (u128)a[2] * b3 + (u128)a[3] * b2 + (u128)a[4] * b1;
    u128 r1 = (u128)a[0] * b[1] + (u128)a[1] * b[0] + (u128)a[2] * b4 + (u128)a[3] * b3 + (u128)a[4] * b2;
    u128 r2 = (u128)a[0] * b[2] + (u128)a[1] * b[1] + (u128)a[2] * b[0] + (u128)a[3] * b4 + (u128)a[4] * b3;
    u128 r3 = (u128)a[0] * b[3] + (u128)a[1] * b[2] + (u128)a[2] * b[1] + (u128)a[3] * b[0] + (u128)a[4] * b4;
    u128 r4 = (u128)a[0] * b[4] + (u128)a[1] * b[3] + (u128)a[2] * b[2] + (u128)a[3] * b[1] + (u128)a[4] * b[0];
    fe_reduce_wide(h, r0, r1, r2, r3, r4);
}

static void fe_sq(fe *h, const fe *f)
{
    const uint64_t *a = f->v;
    uint64_t d0 = 2 * a[0], d1 = 2 * a[1], a3_19 = 19 * a[3], a4_19 = 19 * a[4];
    u128 r0 = (u128)a[0] * a[0] + (u128)d1 * a4_19 + (u128)(2 * a[2]) * a3_19;
    u128 r1 = (u128)d0 * a[1] + (u128)(2 * a[2]) * a4_19 + (u128)a[3] * a3_19;
    u128 r2 = (u128)d0 * a[2] + (u128)a[1] * a[1] + (u128)(2 * a[3]) * a4_19;
    u128 r3 = (u128)d0 * a[3] + (u128)d1 * a[2] + (u128)a[4] * a4_19;
    u128 r4 = (u128)d0 * a[4] + (u128)d1 * a[3] + (u128)a[2] * a[2];
    fe_reduce_wide(h, r0, r1, r2, r3, r4);
}

static void fe_sqn(fe *h, const fe *f, int n)
{
    fe_sq(h, f);
    while (--n > 0) fe_sq(h, h);
}

/* z^(2^250 - 1) and z^11, the shared start of inversion and square root. */
static void fe_pow250(fe *z250, fe *z11, const fe *z)
{
    fe z2, z9, t, z5, z10, z20, z50, z100;
    fe_sq(&z2, z);
    fe_sqn(&t, &z2, 2);
    fe_mul(&z9, &t, z);
    fe_mul(z11, &z9, &z2);
    fe_sq(&t, z11);
    fe_mul(&z5, &t, &z9);       /* 2^5 - 1 */
    fe_sqn(&t, &z5, 5);
    fe_mul(&z10, &t, &z5);      /* 2^10 - 1 */
    fe_sqn(&t, &z10, 10);
    fe_mul(&z20, &t, &z10);     /* 2^20 - 1 */
    fe_sqn(&t, &z20, 20);
    fe_mul(&t, &t, &z20);       /* 2^40 - 1 */
    fe_sqn(&t, &t, 10);
    fe_mul(&z50, &t, &z10);     /* 2^50 - 1 */
    fe_sqn(&t, &z50, 50);
    fe_mul(&z100, &t, &z50);    /* 2^100 - 1 */
    fe_sqn(&t, &z100, 100);
    fe_mul(&t, &t, &z100);      /* 2^200 - 1 */
    fe_sqn(&t, &t, 50);
    fe_mul(z250, &t, &z50);     /* 2^250 - 1 */
}

/* 1/z = z^(p - 2) = z^(2^255 - 21). */
static void fe_invert(fe *h, const fe *z)
{
    fe t, z11;
    fe_pow250(&t, &z11, z);
    fe_sqn(&t, &t, 5);          /* 2^255 - 32 */
    fe_mul(h, &t, &z11);
}

/* z^((p - 5) / 8) = z^(2^252 - 3). */
static void fe_pow22523(fe *h, const fe *z)
{
    fe t, z11;
    fe_pow250(&t, &z11, z);
    fe_sqn(&t, &t, 2);          /* 2^252 - 4 */
    fe_mul(h, &t, z);
}

static int fe_equal(const fe *f, const fe *g)
{
    uint8_t a[32], b[32];
    fe_tobytes(a, f);
    fe_tobytes(b, g);
    return memcmp(a, b, 32) == 0;
}

static int fe_isneg(const fe *f)
{
    uint8_t s[32];
    fe_tobytes(s, f);
    return s[0] & 1;
}

/* ---- constants (computed once: fewer magic numbers to get wrong) ------------------------------ */

static fe C_d, C_d2, C_sqrtm1;
static struct ed25519_table *B_table;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* ---- points ----------------------------------------------------------------------------------- */

static void ge_identity(ge *h)
{
    fe_set(&h->X, 0);
    fe_set(&h->Y, 1);
    fe_set(&h->Z, 1);
    fe_set(&h->T, 0);
}

/* x from y and the sign bit: x^2 = (y^2 - 1) / (d y^2 + 1). */
static int ge_frombytes(ge *h, const uint8_t s[32])
{
    fe y, u, v, v3, t, x, chk;
    fe_frombytes(&y, s);
    fe_sq(&u, &y);
    fe_mul(&v, &u, &C_d);
    fe one;
    fe_set(&one, 1);
    fe_sub(&u, &u, &one);
    fe_add(&v, &v, &one);
    /* x = u v^3 (u v^7)^((p - 5) / 8) */
    fe_sq(&v3, &v);
    fe_mul(&v3, &v3, &v);
    fe_sq(&t, &v3);
    fe_mul(&t, &t, &v);
    fe_mul(&t, &t, &u);
    fe_pow22523(&t, &t);
    fe_mul(&t, &t, &v3);
    fe_mul(&x, &t, &u);
    fe_sq(&chk, &x);
    fe_mul(&chk, &chk, &v);
    if (!fe_equal(&chk, &u)) {
        fe nu;
        fe_neg(&nu, &u);
        if (!fe_equal(&chk, &nu)) return -1;
        fe_mul(&x, &x, &C_sqrtm1);
    }
    if (fe_isneg(&x) != (s[31] >> 7)) fe_neg(&x, &x);
    h->X = x;
    h->Y = y;
    fe_set(&h->Z, 1);
    fe_mul(&h->T, &x, &y);
    return 0;
}

static void ge_tobytes(uint8_t s[32], const ge *p)
{
    fe zi, x, y;
    fe_invert(&zi, &p->Z);
    fe_mul(&x, &p->X, &zi);
    fe_mul(&y, &p->Y, &zi);
    fe_tobytes(s, &y);
    s[31] |= (uint8_t)(fe_isneg(&x) << 7);
}

/* 2p (dbl-2008-hwcd, a = -1). */
static void ge_dbl(ge *r, const ge *p)
{
    fe A, B, C, E, F, G, H;
    fe_sq(&A, &p->X);
    fe_sq(&B, &p->Y);
    fe_sq(&C, &p->Z);
    fe_add_carry(&C, &C, &C);
    fe_add(&E, &p->X, &p->Y);
    fe_sq(&E, &E);
    fe_sub(&E, &E, &A);
    fe_sub(&E, &E, &B);     /* 2xy */
    fe_sub(&G, &B, &A);     /* -A + B */
    fe_sub(&F, &G, &C);
    fe_add_carry(&H, &A, &B);
    fe_neg(&H, &H);         /* -A - B */
    fe_mul(&r->X, &E, &F);
    fe_mul(&r->Y, &G, &H);
    fe_mul(&r->T, &E, &H);
    fe_mul(&r->Z, &F, &G);
}

/* The common end of the additions (add-2008-hwcd-3): A = (Y1-X1)(Y2-X2),
 * B = (Y1+X1)(Y2+X2), C = T1 2d T2, D = 2 Z1 Z2. */
static void ge_add_finish(ge *r, const fe *A, const fe *B, const fe *C, const fe *D)
{
    fe E, F, G, H;
    fe_sub(&E, B, A);
    fe_sub(&F, D, C);
    fe_add(&G, D, C);
    fe_add(&H, B, A);
    fe_mul(&r->X, &E, &F);
    fe_mul(&r->Y, &G, &H);
    fe_mul(&r->T, &E, &H);
    fe_mul(&r->Z, &F, &G);
}

static void ge_add(ge *r, const ge *p, const ge *q)
{
    fe a, b, A, B, C, D;
    fe_sub(&a, &p->Y, &p->X);
    fe_sub(&b, &q->Y, &q->X);
    fe_mul(&A, &a, &b);
    fe_add(&a, &p->Y, &p->X);
    fe_add(&b, &q->Y, &q->X);
    fe_mul(&B, &a, &b);
    fe_mul(&C, &p->T, &q->T);
    fe_mul(&C, &C, &C_d2);
    fe_mul(&D, &p->Z, &q->Z);
    fe_add(&D, &D, &D);
    ge_add_finish(r, &A, &B, &C, &D);
}

/* p + q (sign > 0) or p - q (sign < 0) for an affine q: -(x, y) is
 * (-x, y), whose niels form swaps y + x and y - x and negates 2dxy. */
static void ge_madd(ge *r, const ge *p, const ge_niels *q, int sign)
{
    fe a, A, B, C, D;
    fe_sub(&a, &p->Y, &p->X);
    fe_mul(&A, &a, sign > 0 ? &q->ymx : &q->ypx);
    fe_add(&a, &p->Y, &p->X);
    fe_mul(&B, &a, sign > 0 ? &q->ypx : &q->ymx);
    fe_mul(&C, &p->T, &q->xy2d);
    if (sign < 0) fe_neg(&C, &C);
    fe_add(&D, &p->Z, &p->Z);
    ge_add_finish(r, &A, &B, &C, &D);
}

/* ---- tables ----------------------------------------------------------------------------------- */

size_t ed25519_table_size(void)
{
    return sizeof(struct ed25519_table);
}

/* Fill t with (m + 1) 256^j P; the 256 points are made affine with one
 * inversion (Montgomery's trick). */
static int table_fill(struct ed25519_table *t, const ge *P)
{
    enum { N = TABLE_ROWS * TABLE_COLS };
    ge *pts = malloc(N * sizeof *pts);
    fe *acc = malloc(N * sizeof *acc);
    if (!pts || !acc) {
        free(pts);
        free(acc);
        return -1;
    }
    ge base = *P;
    for (int j = 0; j < TABLE_ROWS; j++) {
        pts[TABLE_COLS * j] = base;
        for (int m = 1; m < TABLE_COLS; m++) ge_add(&pts[TABLE_COLS * j + m], &pts[TABLE_COLS * j + m - 1], &base);
        /* 256 base = 32 (8 base) */
        ge_dbl(&base, &pts[TABLE_COLS * j + TABLE_COLS - 1]);
        for (int k = 1; k < 5; k++) ge_dbl(&base, &base);
    }
    acc[0] = pts[0].Z;
    for (int i = 1; i < N; i++) fe_mul(&acc[i], &acc[i - 1], &pts[i].Z);
    fe inv;
    fe_invert(&inv, &acc[N - 1]);
    for (int i = N - 1; i >= 0; i--) {
        fe zi, x, y;
        if (i > 0) {
            fe_mul(&zi, &inv, &acc[i - 1]);
            fe_mul(&inv, &inv, &pts[i].Z);
        } else {
            zi = inv;
        }
        fe_mul(&x, &pts[i].X, &zi);
        fe_mul(&y, &pts[i].Y, &zi);
        ge_niels *n = &t->t[i / TABLE_COLS][i % TABLE_COLS];
        fe_add(&n->ypx, &y, &x);
        fe_sub(&n->ymx, &y, &x);
        fe_mul(&n->xy2d, &x, &y);
        fe_mul(&n->xy2d, &n->xy2d, &C_d2);
    }
    free(pts);
    free(acc);
    return 0;
}

static void init_once(void)
{
    /* d = -121665 / 121666, sqrt(-1) = 2^((p - 1) / 4), B = (x, 4/5), x even. */
    fe n, inv;
    fe_set(&n, 121666);
    fe_invert(&inv, &n);
    fe_set(&n, 121665);
    fe_neg(&n, &n);
    fe_mul(&C_d, &n, &inv);
    fe_add(&C_d2, &C_d, &C_d);
    /* (p - 1) / 4 = 2^253 - 5 = (2^252 - 3) * 2 + 1: (2^(2^252 - 3))^2 * 2 */
    fe two;
    fe_set(&two, 2);
    fe_pow22523(&C_sqrtm1, &two);
    fe_sq(&C_sqrtm1, &C_sqrtm1);
    fe_mul(&C_sqrtm1, &C_sqrtm1, &two);
    uint8_t b[32];
    fe_set(&n, 5);
    fe_invert(&inv, &n);
    fe_set(&n, 4);
    fe_mul(&n, &n, &inv);
    fe_tobytes(b, &n);
    ge B;
    struct ed25519_table *t = malloc(sizeof *t);
    if (t && ge_frombytes(&B, b) == 0 && table_fill(t, &B) == 0) {
        memcpy(t->pk, b, 32);
        B_table = t;
    } else {
        free(t);
    }
}

static int init(void)
{
    pthread_once(&once, init_once);
    return B_table ? 0 : -1;
}

struct ed25519_table *ed25519_table_new(const uint8_t pk[32])
{
    if (init() < 0) return NULL;
    ge A;
    if (ge_frombytes(&A, pk) < 0) return NULL;
    struct ed25519_table *t = malloc(sizeof *t);
    if (!t) return NULL;
    if (table_fill(t, &A) < 0) {
        free(t);
        return NULL;
    }
    memcpy(t->pk, pk, 32);
    return t;
}

void ed25519_table_free(struct ed25519_table *t)
{
    free(t);
}

/* ---- scalars and verification ----------------------------------------------------------------- */

/* L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
static const uint8_t L_BYTES[32] = { 0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                     0xa2, 0xde, 0xf9, 0xde, 0x14, 0,    0,    0,    0,    0,    0,
                                     0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10 };

int ed25519_scalar_canonical(const uint8_t s[32])
{
    for (int i = 31; i >= 0; i--) {
        if (s[i] != L_BYTES[i]) return s[i] < L_BYTES[i];
    }
    return 0;
}

/* The y coordinates (top bit ignored) of the points of order 1, 2, 4 and
 * 8 and their non-canonical forms below 2^255: 0, 1, the two order-8
 * ys, p - 1, p, p + 1 (unit.ed25519 checks the order-8 ones). */
static const uint8_t SMALL_ORDER[7][32] = {
    { 0 },
    { 1 },
    { 0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
      0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05 },
    { 0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
      0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a },
    { 0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
    { 0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
    { 0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
};

int ed25519_small_order_encoding(const uint8_t s[32])
{
    for (int i = 0; i < 7; i++) {
        if (!memcmp(s, SMALL_ORDER[i], 31) && (s[31] & 0x7f) == SMALL_ORDER[i][31]) return 1;
    }
    return 0;
}

int ed25519_has_order8(const uint8_t s[32])
{
    if (init() < 0) return -1;
    ge P, Q;
    if (ge_frombytes(&P, s) < 0) return -1;
    ge_dbl(&Q, &P);
    ge_dbl(&Q, &Q);
    uint8_t q4[32], q8[32], id[32];
    ge_tobytes(q4, &Q);
    ge_dbl(&Q, &Q);
    ge_tobytes(q8, &Q);
    ge_identity(&P);
    ge_tobytes(id, &P);
    return !memcmp(q8, id, 32) && memcmp(q4, id, 32);
}

/* 64 signed radix-16 digits of a < 2^255: a = sum e[i] 16^i, e[i] in
 * [-8, 7] (the last in [0, 8]). */
static void recode(int8_t e[64], const uint8_t a[32])
{
    for (int i = 0; i < 32; i++) {
        e[2 * i] = (int8_t)(a[i] & 15);
        e[2 * i + 1] = (int8_t)(a[i] >> 4);
    }
    int carry = 0;
    for (int i = 0; i < 63; i++) {
        int v = e[i] + carry;
        carry = (v + 8) >> 4;
        e[i] = (int8_t)(v - (carry << 4));
    }
    e[63] = (int8_t)(e[63] + carry);
}

static void add_digit(ge *acc, int digit, const ge_niels row[TABLE_COLS], int sign)
{
    if (digit > 0) ge_madd(acc, acc, &row[digit - 1], sign);
    else if (digit < 0) ge_madd(acc, acc, &row[-digit - 1], -sign);
}

int ed25519_verify_table(const struct ed25519_table *t, const uint8_t pk[32], const uint8_t *msg, size_t len,
                         const uint8_t sig[64])
{
    if (!t || memcmp(t->pk, pk, 32) || init() < 0) return -1;
    if (!ed25519_scalar_canonical(sig + 32) || ed25519_small_order_encoding(sig)) return -1;
    uint8_t h[64], k[32];
    crypto_hash_sha512_state hs;
    crypto_hash_sha512_init(&hs);
    crypto_hash_sha512_update(&hs, sig, 32);
    crypto_hash_sha512_update(&hs, pk, 32);
    crypto_hash_sha512_update(&hs, msg, len);
    crypto_hash_sha512_final(&hs, h);
    crypto_core_ed25519_scalar_reduce(k, h);
    int8_t es[64], ek[64];
    recode(es, sig + 32);
    recode(ek, k);
    /* [s]B - [k]A: the odd digits' rows, times 16, then the even ones. */
    ge acc;
    ge_identity(&acc);
    for (int j = 0; j < TABLE_ROWS; j++) {
        add_digit(&acc, es[2 * j + 1], B_table->t[j], 1);
        add_digit(&acc, ek[2 * j + 1], t->t[j], -1);
    }
    for (int i = 0; i < 4; i++) ge_dbl(&acc, &acc);
    for (int j = 0; j < TABLE_ROWS; j++) {
        add_digit(&acc, es[2 * j], B_table->t[j], 1);
        add_digit(&acc, ek[2 * j], t->t[j], -1);
    }
    uint8_t r[32];
    ge_tobytes(r, &acc);
    return memcmp(r, sig, 32) == 0 ? 0 : -1;
}
