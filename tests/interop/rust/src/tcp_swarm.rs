//! What the kad, mdns, bench and relay subcommands share: the identity and
//! a swarm on TCP (nodelay) + Noise + Yamux with the library defaults
//! (with the relay client transport: tcp_relay_swarm), connections never
//! closed for being idle while a test runs.

use std::time::Duration;

use libp2p::{noise, relay, swarm::NetworkBehaviour, tcp, yamux, Swarm, SwarmBuilder};
use libp2p_identity::Keypair;

use crate::{generated_keypair, keypair_from_seed, Error};

/// The Ed25519 key from `--seed` ([N, 0, ..., 0]), else a random one (of
/// the type INTEROP_KEY_TYPE names).
pub fn identity(seed: Option<u8>) -> Result<Keypair, Error> {
    match seed {
        Some(s) => keypair_from_seed(s),
        None => generated_keypair(),
    }
}

/// A swarm of `behaviour` (made with the same keypair beforehand).
pub fn tcp_swarm<B: NetworkBehaviour>(keypair: Keypair, behaviour: B) -> Result<Swarm<B>, Error> {
    Ok(SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_behaviour(|_| behaviour)
        .map_err(|e| Error(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build())
}

/// A swarm that can also dial and listen through circuit relays: TCP and
/// the relay client transport, each with Noise + Yamux; `make` builds the
/// behaviour from the keypair and the relay client's behaviour. `keep_idle`:
/// keep idle connections for an hour (false: the library's default
/// timeout, as rust-libp2p's examples).
pub fn tcp_relay_swarm<B: NetworkBehaviour>(
    keypair: Keypair,
    make: impl FnOnce(&Keypair, relay::client::Behaviour) -> B,
    keep_idle: bool,
) -> Result<Swarm<B>, Error> {
    let builder = SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_relay_client(noise::Config::new, yamux::Config::default)?
        .with_behaviour(make)
        .map_err(|e| Error(e.to_string()))?;
    Ok(if keep_idle {
        builder
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
            .build()
    } else {
        builder.build()
    })
}
