//! Which user a loopback connection comes from, so that a process of another user on the
//! same machine cannot take part in a sign-in (fetch the start address, deliver a code).
//!
//! On Linux the kernel lists every TCP socket with its owner's uid in `/proc/net/tcp` and
//! `/proc/net/tcp6`; the client's end of an accepted loopback connection is the line whose
//! local address is the peer's and whose remote address is ours. Elsewhere the owner cannot
//! be read without platform calls, and every connection is let through (a residual risk
//! written down in ARCHITECTURE.md).

use std::net::SocketAddr;

/// What is known of the user behind a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PeerUser {
    /// This process's user, or root (who can read this user's files anyway; WSL's localhost
    /// relay, which brings the Windows browser's connections in, runs as root).
    Allowed,
    /// Another user's process.
    Other(u32),
    /// The socket table could not be read (not Linux, no `/proc`): nothing is known.
    Unknown,
}

/// Largest socket table read (a machine with ~100,000 sockets); the rest is not read.
#[cfg(target_os = "linux")]
const MAX_TABLE_BYTES: u64 = 16 * 1024 * 1024;

/// The user of the process at the other end of a connection accepted on `local` from `peer`.
#[cfg(target_os = "linux")]
pub(crate) fn peer_user(local: SocketAddr, peer: SocketAddr) -> PeerUser {
    use std::io::Read as _;
    let Some(me) = effective_uid() else {
        return PeerUser::Unknown;
    };
    let table = if peer.is_ipv4() {
        "/proc/net/tcp"
    } else {
        "/proc/net/tcp6"
    };
    let mut text = String::new();
    let read =
        std::fs::File::open(table).and_then(|f| f.take(MAX_TABLE_BYTES).read_to_string(&mut text));
    if let Err(e) = read {
        tracing::debug!(table, error = %e, "cannot read the socket table; the peer's user is unknown");
        return PeerUser::Unknown;
    }
    match socket_owner(&text, peer, local) {
        Some(uid) if uid == me || uid == 0 => PeerUser::Allowed,
        Some(uid) => PeerUser::Other(uid),
        // A table larger than the cap was cut short: nothing can be concluded (a machine with
        // hundreds of thousands of sockets; a residual risk in ARCHITECTURE.md).
        None if text.len() as u64 >= MAX_TABLE_BYTES => {
            tracing::debug!(
                table,
                "the socket table is too large to read whole; the peer's user is unknown"
            );
            PeerUser::Unknown
        }
        // A loopback client's socket is listed while it is connected: a missing line means
        // the connection is already gone.
        None => PeerUser::Other(u32::MAX),
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

/// An address as the kernel prints it in `/proc/net/tcp{,6}`: each 32-bit word of the address
/// in host byte order as 8 hex digits, then `:` and the port as 4 hex digits.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn kernel_form(addr: SocketAddr) -> String {
    use std::fmt::Write as _;
    let octets: Vec<u8> = match addr {
        SocketAddr::V4(a) => a.ip().octets().to_vec(),
        SocketAddr::V6(a) => a.ip().octets().to_vec(),
    };
    let mut out = String::with_capacity(octets.len() * 2 + 5);
    for word in octets.chunks_exact(4) {
        let value = u32::from_ne_bytes([word[0], word[1], word[2], word[3]]);
        let _ = write!(out, "{value:08X}");
    }
    let _ = write!(out, ":{:04X}", addr.port());
    out
}

/// The uid column of the line for the socket bound to `local_end` and connected to
/// `remote_end`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn socket_owner(table: &str, local_end: SocketAddr, remote_end: SocketAddr) -> Option<u32> {
    let local = kernel_form(local_end);
    let remote = kernel_form(remote_end);
    table.lines().skip(1).find_map(|line| {
        let mut fields = line.split_whitespace();
        let _slot = fields.next()?;
        let l = fields.next()?;
        let r = fields.next()?;
        if !(l.eq_ignore_ascii_case(&local) && r.eq_ignore_ascii_case(&remote)) {
            return None;
        }
        // state, tx:rx queues, timer, retransmits, then the uid.
        fields.nth(4)?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_form_matches_the_kernels_notation() {
        // 127.0.0.1:8400 on a little-endian machine is printed 0100007F:20D0.
        let v4: SocketAddr = "127.0.0.1:8400".parse().unwrap();
        let expected = if cfg!(target_endian = "little") {
            "0100007F:20D0"
        } else {
            "7F000001:20D0"
        };
        assert_eq!(kernel_form(v4), expected);
        let v6: SocketAddr = "[::1]:8400".parse().unwrap();
        let expected = if cfg!(target_endian = "little") {
            "00000000000000000000000001000000:20D0"
        } else {
            "00000000000000000000000000000001:20D0"
        };
        assert_eq!(kernel_form(v6), expected);
    }

    #[test]
    fn the_owner_is_read_from_the_matching_line_only() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:20D0 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0 100 0 0 10 0\n\
   1: 0100007F:C350 0100007F:20D0 01 00000000:00000000 00:00000000 00000000  1001        0 2 1 0 20 4 30 10 -1\n\
   2: 0100007F:20D0 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 3 1 0 20 4 30 10 -1\n";
        if cfg!(target_endian = "big") {
            return; // the sample is little-endian
        }
        let server: SocketAddr = "127.0.0.1:8400".parse().unwrap();
        let client: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        assert_eq!(socket_owner(table, client, server), Some(1001));
        assert_eq!(socket_owner(table, server, client), Some(1000));
        let other: SocketAddr = "127.0.0.1:50001".parse().unwrap();
        assert_eq!(socket_owner(table, other, server), None);
        assert_eq!(socket_owner("garbage\nmore garbage", client, server), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_connection_from_this_process_is_allowed() {
        for host in ["127.0.0.1:0", "[::1]:0"] {
            let Ok(listener) = std::net::TcpListener::bind(host) else {
                continue; // no IPv6 loopback on this machine
            };
            let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (accepted, peer) = listener.accept().unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
            assert_eq!(
                peer_user(accepted.local_addr().unwrap(), peer),
                PeerUser::Allowed,
                "{host}"
            );
        }
    }
}
