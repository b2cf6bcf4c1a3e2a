//! A server for one stream protocol (the echo protocol of `listen`, the
//! perf protocol of `perf-server`): every inbound stream is served by a
//! task of its own, spawned by the connection handler.
//!
//! (libp2p-stream's `Control::accept` is not used for this: it hands inbound
//! streams over through a channel with room for one, and resets a stream
//! that arrives while the previous one has not been taken yet, which happens
//! when a peer opens several streams at once, as go-libp2p does.)

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use libp2p::{
    core::{
        transport::PortUse,
        upgrade::{DeniedUpgrade, ReadyUpgrade},
        Endpoint,
    },
    swarm::{
        handler::{ConnectionEvent, FullyNegotiatedInbound},
        ConnectionDenied, ConnectionHandler, ConnectionHandlerEvent, ConnectionId, FromSwarm,
        NetworkBehaviour, SubstreamProtocol, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
    },
    Multiaddr, PeerId, Stream, StreamProtocol,
};

/// What serves one inbound stream (its error is printed to stderr).
pub type Serve = fn(Stream) -> Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>;

pub struct Behaviour {
    protocol: StreamProtocol,
    serve: Serve,
}

impl Behaviour {
    pub fn new(protocol: StreamProtocol, serve: Serve) -> Self {
        Behaviour { protocol, serve }
    }

    fn handler(&self) -> Handler {
        Handler {
            protocol: self.protocol.clone(),
            serve: self.serve,
        }
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = Handler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.handler())
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.handler())
    }

    fn on_swarm_event(&mut self, _: FromSwarm) {}

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Infallible, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

pub struct Handler {
    protocol: StreamProtocol,
    serve: Serve,
}

impl ConnectionHandler for Handler {
    type FromBehaviour = Infallible;
    type ToBehaviour = Infallible;
    type InboundProtocol = ReadyUpgrade<StreamProtocol>;
    type OutboundProtocol = DeniedUpgrade;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = ();

    fn listen_protocol(&self) -> SubstreamProtocol<Self::InboundProtocol> {
        SubstreamProtocol::new(ReadyUpgrade::new(self.protocol.clone()), ())
    }

    fn poll(
        &mut self,
        _: &mut Context<'_>,
    ) -> Poll<ConnectionHandlerEvent<Self::OutboundProtocol, (), Self::ToBehaviour>> {
        Poll::Pending
    }

    fn on_behaviour_event(&mut self, event: Self::FromBehaviour) {
        match event {}
    }

    fn on_connection_event(
        &mut self,
        event: ConnectionEvent<Self::InboundProtocol, Self::OutboundProtocol>,
    ) {
        if let ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound {
            protocol: stream,
            ..
        }) = event
        {
            let (serve, protocol) = (self.serve, self.protocol.clone());
            tokio::spawn(async move {
                if let Err(e) = serve(stream).await {
                    eprintln!("interop-peer: {protocol} stream: {e}");
                }
            });
        }
    }
}
