/* host_internal.h - the host structure, shared by host.c, loader.c,
 * registry.c and timer.c. Not part of the SDK. */
#ifndef P2P_HOST_INTERNAL_H
#define P2P_HOST_INTERNAL_H

#include <stdbool.h>
#include "p2p/conn.h"
#include "p2p/host.h"
#include "list.h"
#include "membudget.h"
#include "memtrim.h"

struct loaded_plugin {
    const struct p2p_plugin *desc;
    char *path;                 /* file it came from, or "(built in)" */
    void *dl;                   /* dlopen handle, NULL when built in */
    p2p_conf_section *section;
    void *state;
    bool inited, started;
    int mark;                   /* topological sort */
};

struct protocol_entry {
    char *id;
    p2p_protocol_handler fn;
    void *arg;
};

/* A registered transport, security protocol or muxer. */
struct layer_entry {
    const void *ops;
    void *state;
};

struct service_entry {
    char *name;
    uint32_t version;
    const void *api;
    void *state;
};

struct p2p_host {
    uv_loop_t *loop;
    uv_loop_t own_loop;
    bool owns_loop;
    p2p_conf *conf;
    p2p_conf_section *host_section;
    const struct p2p_app_schema *apps;  /* from p2p_host_opts: [app] sections accepted */
    p2p_conf **retired;         /* configurations replaced by p2p_host_reload (kept: plugins may point into them) */
    size_t nretired;
    p2p_keypair key;
    p2p_peerid id;
    int identity_lock_fd;
    char *identity_note;
    char *identity_file;        /* the key file the identity was read from, NULL when none */
    char error[512];            /* p2p_host_set_error */

    struct loaded_plugin *plugins;  /* in start order after p2p_loader_load */
    size_t nplugins;
    bool started;

    struct protocol_entry *protocols;
    size_t nprotocols;
    struct service_entry *services;
    size_t nservices;
    struct layer_entry *transports, *securities, *muxers;
    size_t ntransports, nsecurities, nmuxers;

    struct p2p_list timers;     /* live p2p_timer, for leak reports */

    struct p2p_peerstore *peerstore;
    struct p2p_swarm *swarm;
    struct p2p_subscription *subs;
    int emitting;

    struct p2p_metrics *metrics;    /* metrics.c */
    struct p2p_reachability_info reach;   /* reachability.c */
    struct p2p_membudget mem;             /* membudget.c */
    struct p2p_memtrim trim;              /* memtrim.c */

    uv_idle_t defer_idle;       /* runs queued p2p_defer calls */
    struct p2p_defer *defer_head, *defer_tail, *defer_running;
    bool defer_closed;
};

/* loader.c */
int p2p_loader_load(p2p_host *h, const struct p2p_plugin *const *builtin, char *err, size_t errlen);
int p2p_loader_init(p2p_host *h, char *err, size_t errlen);
int p2p_loader_start(p2p_host *h, char *err, size_t errlen);
void p2p_loader_stop(p2p_host *h);
void p2p_loader_fini(p2p_host *h);
void p2p_loader_unload(p2p_host *h);

/* registry.c, layers.c */
void p2p_registry_free(p2p_host *h);
void p2p_layers_free(p2p_host *h);

/* peerstore.c, events.c */
void p2p_peerstore_free(p2p_host *h);
void p2p_events_free(p2p_host *h);

/* defer.c */
void p2p_defer_setup(p2p_host *h);
void p2p_defer_teardown(p2p_host *h);

/* host.c: validate every [app NAME] section against h->apps; whether
 * p2p_host_reload may change a [host] key. */
int p2p_host_check_apps(p2p_host *h, p2p_conf *conf, char *err, size_t errlen);
bool p2p_host_key_reloadable(const char *key);

/* metrics.c: the registry lives from p2p_host_new to the very end of
 * p2p_host_free (plugins' series pointers stay valid through fini). */
int p2p_metrics_setup(p2p_host *h);
void p2p_metrics_free(p2p_host *h);

/* timer.c */
/* The timer does not keep the loop running by itself (uv_unref): for
 * housekeeping that must not delay a loop's end (memtrim). */
void p2p_timer_unref(p2p_timer *t);
void p2p_timers_close_all(p2p_host *h);

#endif
