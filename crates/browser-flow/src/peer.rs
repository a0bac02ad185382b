//! Which user a loopback connection comes from, so that a process of another user on the
//! same machine cannot take part in a sign-in (fetch the start address, deliver a code).
//!
//! On Linux the kernel is asked for exactly one socket: the client's end of the accepted
//! connection, named by its 4-tuple (source = the peer's address, destination = ours), with a
//! `sock_diag` (`inet_diag`) netlink request. The answer carries the socket's owner. The cost
//! does not depend on how many sockets the machine has (a process of any user can grow
//! `/proc/net/tcp` to hundreds of thousands of lines), the request is a few system calls on a
//! non-blocking socket (nothing waits, so the async runtime is never held up), and an owner
//! that cannot be established is refused, never allowed.
//!
//! Elsewhere the owner cannot be read without platform calls, and every connection is let
//! through (a residual risk written down in ARCHITECTURE.md).

use std::net::SocketAddr;

/// What is known of the user behind a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) enum PeerUser {
    /// This process's user, or root (who can read this user's files anyway; WSL's localhost
    /// relay, which brings the Windows browser's connections in, runs as root).
    Allowed,
    /// Another user's process.
    Other(u32),
    /// The owner could not be established (the connection is already gone, the kernel did
    /// not answer, or this platform has no way to ask).
    Unknown,
}

impl PeerUser {
    /// Whether the peer may take part in the sign-in. On Linux only a known owner that is
    /// this user or root; elsewhere, where nothing can be known, everyone.
    pub(crate) fn allowed(self) -> bool {
        match self {
            Self::Allowed => true,
            Self::Other(_) => false,
            Self::Unknown => !cfg!(target_os = "linux"),
        }
    }
}

/// The user of the process at the other end of a connection accepted on `local` from `peer`.
#[cfg(target_os = "linux")]
pub(crate) fn peer_user(local: SocketAddr, peer: SocketAddr) -> PeerUser {
    let Some(me) = effective_uid() else {
        return PeerUser::Unknown;
    };
    match sock_diag::owner(peer, local) {
        Ok(Some(uid)) if uid == me || uid == 0 => PeerUser::Allowed,
        Ok(Some(uid)) => PeerUser::Other(uid),
        Ok(None) => {
            tracing::debug!("the client's socket is gone; its user is unknown");
            PeerUser::Unknown
        }
        Err(e) => {
            tracing::debug!(error = %e, "the kernel did not say who owns the connection");
            PeerUser::Unknown
        }
    }
}

/// Elsewhere nothing is known.
#[cfg(not(target_os = "linux"))]
pub(crate) fn peer_user(_local: SocketAddr, _peer: SocketAddr) -> PeerUser {
    PeerUser::Unknown
}

/// This process's effective uid, from `/proc/self/status` (`Uid: real effective saved fs`),
/// read once per process rather than for every request.
#[cfg(target_os = "linux")]
fn effective_uid() -> Option<u32> {
    static UID: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();
    *UID.get_or_init(|| {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("Uid:"))?;
        line.split_whitespace().nth(2)?.parse().ok()
    })
}

/// One exact `inet_diag` lookup over a `NETLINK_SOCK_DIAG` socket.
#[cfg(target_os = "linux")]
mod sock_diag {
    use std::io;
    use std::net::SocketAddr;

    use netlink_packet_core::{NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload};
    use netlink_packet_sock_diag::SockDiagMessage;
    use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
    use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
    use netlink_sys::protocols::NETLINK_SOCK_DIAG;
    use netlink_sys::{Socket, SocketAddr as NetlinkAddr};

    /// `INET_DIAG_NOCOOKIE`: match by the 4-tuple alone.
    const NO_COOKIE: [u8; 8] = [0xff; 8];
    /// An answer for one socket is about 100 bytes (no extensions are asked for); an error
    /// answer quotes the request. A fixed buffer, never sized from the answer.
    const ANSWER_BYTES: usize = 1024;

    /// The uid owning the TCP socket bound to `source` and connected to `destination`;
    /// `None` when the kernel has no such socket.
    pub(super) fn owner(source: SocketAddr, destination: SocketAddr) -> io::Result<Option<u32>> {
        let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
        socket.bind_auto()?;
        socket.connect(&NetlinkAddr::new(0, 0))?;
        // The kernel answers while handling the send; a missing answer is never waited for.
        socket.set_non_blocking(true)?;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST;
        let mut request = NetlinkMessage::new(
            header,
            SockDiagMessage::InetRequest(InetRequest {
                family: if source.is_ipv4() { AF_INET } else { AF_INET6 },
                protocol: IPPROTO_TCP,
                extensions: ExtensionFlags::empty(),
                states: StateFlags::all(),
                socket_id: SocketId {
                    source_port: source.port(),
                    destination_port: destination.port(),
                    source_address: source.ip(),
                    destination_address: destination.ip(),
                    interface_id: 0,
                    cookie: NO_COOKIE,
                },
            })
            .into(),
        );
        request.finalize();
        let mut bytes = vec![0; request.buffer_len()];
        request.serialize(&mut bytes);
        socket.send(&bytes, 0)?;

        let mut answer = vec![0u8; ANSWER_BYTES];
        let received = socket.recv(&mut &mut answer[..], 0)?;
        let answer = answer.get(..received).unwrap_or_default();
        let message = NetlinkMessage::<SockDiagMessage>::deserialize(answer)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        match message.payload {
            NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) => {
                let id = &response.header.socket_id;
                // The kernel looked the socket up by this 4-tuple; check that it says so.
                if id.source_port != source.port() || id.destination_port != destination.port() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the kernel answered for another socket",
                    ));
                }
                Ok(Some(response.header.uid))
            }
            NetlinkPayload::Error(e) => match e.code.map(i32::from) {
                Some(code) if code == -libc_enoent() => Ok(None),
                Some(code) => Err(io::Error::from_raw_os_error(-code)),
                None => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the kernel acknowledged without an answer",
                )),
            },
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "unexpected sock_diag answer",
            )),
        }
    }

    /// `ENOENT`, the same on every Linux architecture.
    const fn libc_enoent() -> i32 {
        2
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn connections_from_this_process_are_allowed_from_any_loopback_source() {
        // IPv4 from 127.0.0.1 and from another address of 127.0.0.0/8, and IPv6.
        for (listen, source) in [
            ("127.0.0.1:0", "127.0.0.1:0"),
            ("127.0.0.1:0", "127.3.4.5:0"),
            ("[::1]:0", "[::1]:0"),
        ] {
            let Ok(listener) = tokio::net::TcpListener::bind(listen).await else {
                continue; // no IPv6 loopback on this machine
            };
            let target = listener.local_addr().unwrap();
            let source: SocketAddr = source.parse().unwrap();
            let socket = if source.is_ipv4() {
                tokio::net::TcpSocket::new_v4()
            } else {
                tokio::net::TcpSocket::new_v6()
            }
            .unwrap();
            socket.bind(source).unwrap();
            let client = socket.connect(target).await.unwrap();
            let (accepted, peer) = listener.accept().await.unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
            let user = peer_user(accepted.local_addr().unwrap(), peer);
            assert_eq!(user, PeerUser::Allowed, "{source} -> {target}");
            assert!(user.allowed());
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_connection_that_is_gone_has_no_known_owner_and_is_refused() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        // Nobody is connected from this port.
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let user = peer_user(local, peer);
        assert_eq!(user, PeerUser::Unknown);
        assert!(!user.allowed());
    }
}
