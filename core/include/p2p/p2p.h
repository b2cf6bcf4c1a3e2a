/* p2p/p2p.h - the whole SDK. */
#ifndef P2P_P2P_H
#define P2P_P2P_H
#include "api.h"
#include "error.h"
#include "log.h"
#include "buf.h"
#include "varint.h"
#include "multibase.h"
#include "multihash.h"
#include "multiaddr.h"
#include "crypto.h"
#include "peerid.h"
#include "config.h"
#include "plugin.h"
#include "host.h"
#include "stream.h"
#include "transport.h"
#include "security.h"
#include "muxer.h"
#include "multistream.h"
#include "conn.h"
#include "record.h"
#endif
