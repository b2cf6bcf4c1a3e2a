/* p2p/error.h - error codes.
 *
 * Convention (as in the Linux kernel): functions return 0 or a positive
 * count on success and a negative P2P_E* code on failure. Functions whose
 * failures a user must understand (config, loader, parsers of user input)
 * also fill a caller-provided message buffer with one sentence. */
#ifndef P2P_ERROR_H
#define P2P_ERROR_H

#include "api.h"

P2P_BEGIN_DECLS

enum p2p_err {
    P2P_OK = 0,
    P2P_ENOMEM = -1,       /* out of memory */
    P2P_EINVAL = -2,       /* invalid argument or malformed input */
    P2P_ERANGE = -3,       /* value out of range or too large */
    P2P_ETRUNC = -4,       /* input ends too early; more bytes needed */
    P2P_EPROTO = -5,       /* protocol violation by the remote */
    P2P_ENOTFOUND = -6,    /* no such item */
    P2P_EEXIST = -7,       /* already exists */
    P2P_EIO = -8,          /* I/O error */
    P2P_EPERM = -9,        /* permission denied or unsafe permissions */
    P2P_EUNSUPPORTED = -10,/* known but not supported */
    P2P_EABI = -11,        /* plugin ABI mismatch */
    P2P_EDEP = -12,        /* missing or cyclic plugin dependency */
    P2P_ECONFIG = -13,     /* bad configuration */
    P2P_ELIMIT = -14,      /* a configured limit was reached */
    P2P_ETIMEDOUT = -15,   /* operation timed out */
    P2P_ECLOSED = -16,     /* closed */
    P2P_ECRYPTO = -17,     /* signature or decryption failure */
    P2P_EBUSY = -18,       /* resource busy or locked */
    P2P_EAGAIN = -19,      /* would block; retry later */
    P2P_ECANCELED = -20,   /* canceled */
    P2P_ERESET = -21,      /* reset by the remote */
    P2P_EPLUGIN = -22,     /* a plugin failed */
    P2P_ESTATE = -23,      /* call not valid in the current state */
    P2P_ENEGOTIATE = -24,  /* no common protocol */
    P2P_EREFUSED = -25,    /* connection refused */
    P2P_EUNREACH = -26,    /* address unreachable */
    P2P_EPEERID = -27,     /* remote PeerId differs from the expected one */
    P2P_ERR_LAST_ = -28
};

/* A short, lower-case, readable description; never NULL. Unknown codes
 * give "unknown error". */
P2P_API const char *p2p_strerror(int err);

P2P_END_DECLS
#endif
