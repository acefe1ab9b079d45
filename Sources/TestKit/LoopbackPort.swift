import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Loopback TCP ports for tests that must name a port before anything listens on it.
public enum LoopbackPort {
    /// A port on 127.0.0.1 that nothing is bound to, chosen *below* the kernel's ephemeral range.
    ///
    /// Below that range on purpose: a ZeroMQ socket reconnecting to a port inside it, while nothing
    /// listens there, can be given that same port as its source and TCP-connect to itself
    /// (simultaneous open). Whatever it sends meanwhile goes to itself, and the port stays taken
    /// for whoever wanted to bind it.
    public static func unusedBelowEphemeralRange() throws -> Int {
        let end = ephemeralRangeStart()
        let candidates = Array(max(1_024, end - 12_000)..<end).shuffled()
        for port in candidates.prefix(500) where isFree(port) {
            return port
        }
        throw HarnessError("no free loopback port below \(end) after 500 tries")
    }

    /// The first port of `/proc/sys/net/ipv4/ip_local_port_range`; 32768 (Linux's default) when
    /// that cannot be read.
    public static func ephemeralRangeStart() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8),
              let first = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first,
              let port = Int(first), port > 2_048
        else { return 32_768 }
        return port
    }

    /// Whether a TCP socket can bind 127.0.0.1:`port` right now (bound, never listened, then closed,
    /// so nothing lingers in TIME_WAIT).
    private static func isFree(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var reuse: Int32 = 1
        _ = setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return result == 0
    }
}
