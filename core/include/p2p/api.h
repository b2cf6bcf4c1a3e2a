/* p2p/api.h - export macro and SDK version.
 *
 * Every function of the SDK is marked P2P_API; everything else in
 * libp2pcore.so is hidden. Plugins use P2P_PLUGIN_EXPORT (p2p/plugin.h),
 * which makes their descriptor the one exported symbol of the plugin. */
#ifndef P2P_API_H
#define P2P_API_H

#define P2P_API __attribute__((visibility("default")))

#if defined(__GNUC__)
#define P2P_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define P2P_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define P2P_PRINTF(fmt, args)
#define P2P_WARN_UNUSED
#endif

#ifdef __cplusplus
#define P2P_BEGIN_DECLS extern "C" {
#define P2P_END_DECLS }
#else
#define P2P_BEGIN_DECLS
#define P2P_END_DECLS
#endif

P2P_BEGIN_DECLS
/* Version of the library at run time, e.g. "0.1.0". */
P2P_API const char *p2p_version(void);
P2P_END_DECLS

#endif
