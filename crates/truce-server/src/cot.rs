//! Cursor-on-Target listeners (TCP stream, UDP datagrams): being written.

use std::net::SocketAddr;

use crate::state::Shared;

/// Listens for CoT events on a TCP address until shutdown.
pub async fn listen_tcp(
    state: Shared,
    addr: SocketAddr,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let _ = (state, addr, shutdown);
    anyhow::bail!("the CoT TCP listener is not written yet")
}

/// Listens for CoT events on a UDP address until shutdown.
pub async fn listen_udp(
    state: Shared,
    addr: SocketAddr,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let _ = (state, addr, shutdown);
    anyhow::bail!("the CoT UDP listener is not written yet")
}
