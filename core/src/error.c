#include "p2p/error.h"

static const char *const messages[] = {
    [0] = "success",
    [-P2P_ENOMEM] = "out of memory",
    [-P2P_EINVAL] = "invalid argument or malformed input",
    [-P2P_ERANGE] = "value out of range",
    [-P2P_ETRUNC] = "input truncated",
    [-P2P_EPROTO] = "protocol violation",
    [-P2P_ENOTFOUND] = "not found",
    [-P2P_EEXIST] = "already exists",
    [-P2P_EIO] = "input/output error",
    [-P2P_EPERM] = "permission denied",
    [-P2P_EUNSUPPORTED] = "not supported",
    [-P2P_EABI] = "plugin ABI mismatch",
    [-P2P_EDEP] = "plugin dependency error",
    [-P2P_ECONFIG] = "bad configuration",
    [-P2P_ELIMIT] = "limit reached",
    [-P2P_ETIMEDOUT] = "timed out",
    [-P2P_ECLOSED] = "closed",
    [-P2P_ECRYPTO] = "cryptographic verification failed",
    [-P2P_EBUSY] = "resource busy",
    [-P2P_EAGAIN] = "try again",
    [-P2P_ECANCELED] = "canceled",
    [-P2P_ERESET] = "reset by peer",
    [-P2P_EPLUGIN] = "plugin failure",
    [-P2P_ESTATE] = "invalid state",
    [-P2P_ENEGOTIATE] = "no common protocol",
    [-P2P_EREFUSED] = "connection refused",
    [-P2P_EUNREACH] = "address unreachable",
    [-P2P_EPEERID] = "peer id mismatch",
};

P2P_API const char *p2p_strerror(int err)
{
    if (err > 0 || err <= P2P_ERR_LAST_) return "unknown error";
    return messages[-err] ? messages[-err] : "unknown error";
}
