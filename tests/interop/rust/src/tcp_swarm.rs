//! What the kad and mdns subcommands share: the identity and a swarm on
//! TCP (nodelay) + Noise + Yamux with the library defaults, connections
//! never closed for being idle while a test runs.

use std::time::Duration;

use libp2p::{noise, swarm::NetworkBehaviour, tcp, yamux, Swarm, SwarmBuilder};
use libp2p_identity::Keypair;

use crate::{keypair_from_seed, Error};

/// The Ed25519 key from `--seed` ([N, 0, ..., 0]), else a random one.
pub fn identity(seed: Option<u8>) -> Result<Keypair, Error> {
    match seed {
        Some(s) => keypair_from_seed(s),
        None => Ok(Keypair::generate_ed25519()),
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
