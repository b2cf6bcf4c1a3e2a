/* A shared object on the plugin path that exports no descriptor. */
#include "p2p/api.h"

P2P_API int p2p_not_a_plugin(void);
P2P_API int p2p_not_a_plugin(void) { return 42; }
