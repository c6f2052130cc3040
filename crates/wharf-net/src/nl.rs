//! A small synchronous rtnetlink client: links, addresses and routes in one network namespace.
//!
//! A netlink socket talks to the namespace it was created in, so [`Nl::open_in`] creates the socket
//! on a thread inside the target namespace and the caller then uses it from anywhere.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

use netlink_packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket};

use crate::error::{Error, Result};
use crate::netns::run_in_netns;

const ENODEV: i32 = 19;
const EEXIST: i32 = 17;

/// A link as this crate cares about it.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub index: u32,
    pub controller: Option<u32>,
}

impl Link {
    fn from_msg(m: &LinkMessage) -> Link {
        let controller = m.attributes.iter().find_map(|a| match a {
            LinkAttribute::Controller(c) => Some(*c),
            _ => None,
        });
        Link { index: m.header.index, controller }
    }
}

/// One rtnetlink socket bound to one network namespace.
pub(crate) struct Nl {
    sock: Socket,
    seq: u32,
}

/// The answer to one request: the messages that came back, or the kernel's errno.
type Reply = std::result::Result<Vec<RouteNetlinkMessage>, i32>;

impl Nl {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> Result<Nl> {
        let op = || "open socket".to_string();
        let mut sock = Socket::new(NETLINK_ROUTE).map_err(|source| Error::Netlink { op: op(), source })?;
        sock.bind_auto().map_err(|source| Error::Netlink { op: op(), source })?;
        Ok(Nl { sock, seq: 0 })
    }

    /// A socket in the network namespace whose file is `netns`.
    pub fn open_in(netns: &Path) -> Result<Nl> {
        run_in_netns(netns, Nl::open)?
    }

    fn raw(&mut self, msg: RouteNetlinkMessage, flags: u16, op: &dyn Fn() -> String) -> Result<Reply> {
        self.seq = self.seq.wrapping_add(1);
        let mut req = NetlinkMessage::from(msg);
        req.header.flags = NLM_F_REQUEST | flags;
        req.header.sequence_number = self.seq;
        req.finalize();
        let mut buf = vec![0u8; req.buffer_len()];
        req.serialize(&mut buf);
        self.sock.send(&buf, 0).map_err(|source| Error::Netlink { op: op(), source })?;
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut out = Vec::new();
        loop {
            let (data, _) = self.sock.recv_from_full().map_err(|source| Error::Netlink { op: op(), source })?;
            let mut off = 0usize;
            while off < data.len() {
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[off..])
                    .map_err(|e| Error::Decode { op: op(), detail: e.to_string() })?;
                let len = msg.header.length as usize;
                if len == 0 {
                    break;
                }
                off += (len + 3) & !3;
                if msg.header.sequence_number != self.seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::InnerMessage(m) => out.push(m),
                    NetlinkPayload::Error(e) => {
                        return Ok(match e.code {
                            None => Ok(out),
                            Some(code) => Err(-code.get()),
                        })
                    }
                    NetlinkPayload::Done(_) => return Ok(Ok(out)),
                    _ => {}
                }
                if !dump && flags & NLM_F_ACK == 0 && !out.is_empty() {
                    return Ok(Ok(out));
                }
            }
        }
    }

    /// Sends a request and insists on success.
    fn request(&mut self, msg: RouteNetlinkMessage, flags: u16, op: &dyn Fn() -> String) -> Result<Vec<RouteNetlinkMessage>> {
        self.raw(msg, flags, op)?
            .map_err(|errno| Error::Netlink { op: op(), source: std::io::Error::from_raw_os_error(errno) })
    }

    /// Every link of the namespace.
    pub fn links(&mut self) -> Result<Vec<Link>> {
        let msgs = self.request(RouteNetlinkMessage::GetLink(LinkMessage::default()), NLM_F_DUMP, &|| "dump links".into())?;
        Ok(msgs
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(Link::from_msg(l)),
                _ => None,
            })
            .collect())
    }

    /// The link called `name`, if there is one.
    pub fn link(&mut self, name: &str) -> Result<Option<Link>> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        let op = || format!("get link {name}");
        match self.raw(RouteNetlinkMessage::GetLink(m), NLM_F_ACK, &op)? {
            Ok(msgs) => Ok(msgs.iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(Link::from_msg(l)),
                _ => None,
            })),
            Err(ENODEV) => Ok(None),
            Err(errno) => Err(Error::Netlink { op: op(), source: std::io::Error::from_raw_os_error(errno) }),
        }
    }

    /// Creates a bridge called `name` (fails with EEXIST if a link of that name exists).
    pub fn add_bridge(&mut self, name: &str) -> Result<()> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        m.attributes.push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]));
        self.request(RouteNetlinkMessage::NewLink(m), NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &|| format!("add bridge {name}"))?;
        Ok(())
    }

    /// Creates a veth pair: `name` here, `peer` in the namespace open as `peer_netns` (or here).
    pub fn add_veth(&mut self, name: &str, peer: &str, peer_netns: Option<BorrowedFd<'_>>) -> Result<()> {
        let mut p = LinkMessage::default();
        p.attributes.push(LinkAttribute::IfName(peer.to_string()));
        if let Some(fd) = peer_netns {
            p.attributes.push(LinkAttribute::NetNsFd(fd.as_raw_fd()));
        }
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))),
        ]));
        self.request(RouteNetlinkMessage::NewLink(m), NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &|| {
            format!("add veth {name} (peer {peer})")
        })?;
        Ok(())
    }

    /// Brings link `index` up and, if given, enslaves it to the bridge `controller`.
    pub fn set_up(&mut self, index: u32, controller: Option<u32>) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.header.flags |= LinkFlags::Up;
        m.header.change_mask |= LinkFlags::Up;
        if let Some(c) = controller {
            m.attributes.push(LinkAttribute::Controller(c));
        }
        self.request(RouteNetlinkMessage::SetLink(m), NLM_F_ACK, &|| format!("set link #{index} up"))?;
        Ok(())
    }

    /// Deletes link `index`; a link that is already gone is fine.
    pub fn del_link(&mut self, index: u32) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        let op = || format!("delete link #{index}");
        match self.raw(RouteNetlinkMessage::DelLink(m), NLM_F_ACK, &op)? {
            Ok(_) | Err(ENODEV) => Ok(()),
            Err(errno) => Err(Error::Netlink { op: op(), source: std::io::Error::from_raw_os_error(errno) }),
        }
    }

    /// Deletes the link called `name` if it exists.
    pub fn del_link_named(&mut self, name: &str) -> Result<bool> {
        match self.link(name)? {
            Some(l) => self.del_link(l.index).map(|()| true),
            None => Ok(false),
        }
    }

    /// Every IPv4 address of the namespace as (link index, address, prefix length).
    pub fn addrs_v4(&mut self) -> Result<Vec<(u32, Ipv4Addr, u8)>> {
        let mut q = AddressMessage::default();
        q.header.family = AddressFamily::Inet;
        let msgs = self.request(RouteNetlinkMessage::GetAddress(q), NLM_F_DUMP, &|| "dump addresses".into())?;
        Ok(msgs
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => a.attributes.iter().find_map(|at| match at {
                    AddressAttribute::Local(IpAddr::V4(ip)) | AddressAttribute::Address(IpAddr::V4(ip)) => {
                        Some((a.header.index, *ip, a.header.prefix_len))
                    }
                    _ => None,
                }),
                _ => None,
            })
            .collect())
    }

    /// Puts `ip/prefix` on link `index` (replacing an identical address: idempotent).
    pub fn add_addr(&mut self, index: u32, ip: Ipv4Addr, prefix: u8) -> Result<()> {
        let mut m = AddressMessage::default();
        m.header.family = AddressFamily::Inet;
        m.header.prefix_len = prefix;
        m.header.index = index;
        m.attributes.push(AddressAttribute::Local(IpAddr::V4(ip)));
        m.attributes.push(AddressAttribute::Address(IpAddr::V4(ip)));
        self.request(RouteNetlinkMessage::NewAddress(m), NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, &|| {
            format!("add address {ip}/{prefix} to link #{index}")
        })?;
        Ok(())
    }

    /// Adds or replaces the main-table route `dest/prefix` out of `oif`, via `gateway` if given
    /// (scope link when there is no gateway).
    pub fn replace_route(&mut self, dest: Ipv4Addr, prefix: u8, gateway: Option<Ipv4Addr>, oif: u32) -> Result<()> {
        let m = route_msg(dest, prefix, gateway, oif);
        self.request(RouteNetlinkMessage::NewRoute(m), NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, &|| {
            format!("add route {dest}/{prefix} via {gateway:?} dev #{oif}")
        })?;
        Ok(())
    }
}

fn route_msg(dest: Ipv4Addr, prefix: u8, gateway: Option<Ipv4Addr>, oif: u32) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = AddressFamily::Inet;
    m.header.destination_prefix_length = prefix;
    m.header.table = RouteHeader::RT_TABLE_MAIN;
    m.header.protocol = RouteProtocol::Static;
    m.header.kind = RouteType::Unicast;
    m.header.scope = if gateway.is_some() { RouteScope::Universe } else { RouteScope::Link };
    if prefix > 0 {
        m.attributes.push(RouteAttribute::Destination(RouteAddress::Inet(dest)));
    }
    if let Some(gw) = gateway {
        m.attributes.push(RouteAttribute::Gateway(RouteAddress::Inet(gw)));
    }
    m.attributes.push(RouteAttribute::Oif(oif));
    m
}

/// Whether an error is the kernel saying "exists already".
pub(crate) fn is_exists(e: &Error) -> bool {
    matches!(e, Error::Netlink { source, .. } if source.raw_os_error() == Some(EEXIST))
}
