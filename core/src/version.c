#include "p2p/api.h"

P2P_API const char *p2p_version(void) { return P2P_VERSION_STRING; }
