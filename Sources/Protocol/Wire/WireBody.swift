/// Appends the primitive values of a message body, in the compact binary form of `docs/protocol.md`.
///
/// Unsigned integers are LEB128 varints, signed ones zigzag varints, strings and byte counts are
/// length-prefixed, optionals carry a presence byte, and maps are written sorted by key so equal
/// values always have equal bytes.
public struct WireWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 64) {
        bytes.reserveCapacity(capacity)
    }

    public mutating func unsigned(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    public mutating func signed(_ value: Int64) {
        unsigned(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    public mutating func int(_ value: Int) { signed(Int64(value)) }

    public mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

    public mutating func byte(_ value: UInt8) { bytes.append(value) }

    public mutating func double(_ value: Double) {
        var bits = value.bitPattern.littleEndian
        withUnsafeBytes(of: &bits) { bytes.append(contentsOf: $0) }
    }

    public mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            unsigned(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    public mutating func optional<T>(_ value: T?, _ write: (inout WireWriter, T) -> Void) {
        guard let value else {
            bytes.append(0)
            return
        }
        bytes.append(1)
        write(&self, value)
    }

    public mutating func array<T>(_ values: [T], _ write: (inout WireWriter, T) -> Void) {
        unsigned(UInt64(values.count))
        for value in values { write(&self, value) }
    }

    public mutating func strings(_ values: [String]) {
        array(values) { $0.string($1) }
    }

    public mutating func map<V>(_ values: [String: V], _ write: (inout WireWriter, V) -> Void) {
        unsigned(UInt64(values.count))
        for key in values.keys.sorted() {
            string(key)
            write(&self, values[key]!)
        }
    }
}

/// Reads what `WireWriter` wrote. Every read checks the bytes left and throws `.badBody` instead
/// of trapping; counts are bounded by the bytes left, so a hostile length cannot allocate much.
public struct WireReader {
    private let bytes: [UInt8]
    private var position: Int
    /// Names the message in error text.
    private let context: String

    public init(_ bytes: [UInt8], context: String) {
        self.bytes = bytes
        self.position = 0
        self.context = context
    }

    public var isAtEnd: Bool { position == bytes.count }

    public func fail(_ what: String) -> ProtocolError {
        ProtocolError(.badBody, "\(context) body: \(what) at byte \(position)")
    }

    /// Throws unless every byte was read: a body is exactly its fields.
    public func finish() throws(ProtocolError) {
        guard isAtEnd else { throw fail("\(bytes.count - position) unexpected trailing bytes") }
    }

    public mutating func byte() throws(ProtocolError) -> UInt8 {
        guard position < bytes.count else { throw fail("truncated") }
        defer { position += 1 }
        return bytes[position]
    }

    public mutating func unsigned() throws(ProtocolError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let next = try byte()
            if shift == 63 && next > 1 { throw fail("varint overflows 64 bits") }
            value |= UInt64(next & 0x7F) << shift
            if next & 0x80 == 0 { return value }
            shift += 7
            if shift > 63 { throw fail("varint longer than 10 bytes") }
        }
    }

    public mutating func signed() throws(ProtocolError) -> Int64 {
        let raw = try unsigned()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    public mutating func int() throws(ProtocolError) -> Int {
        let value = try signed()
        guard let result = Int(exactly: value) else { throw fail("integer out of range") }
        return result
    }

    public mutating func int32() throws(ProtocolError) -> Int32 {
        let value = try signed()
        guard let result = Int32(exactly: value) else { throw fail("integer out of the 32-bit range") }
        return result
    }

    public mutating func uint16() throws(ProtocolError) -> UInt16 {
        let value = try unsigned()
        guard let result = UInt16(exactly: value) else { throw fail("integer out of the 16-bit range") }
        return result
    }

    public mutating func bool() throws(ProtocolError) -> Bool {
        switch try byte() {
        case 0: return false
        case 1: return true
        case let other: throw fail("boolean byte \(other)")
        }
    }

    public mutating func double() throws(ProtocolError) -> Double {
        guard bytes.count - position >= 8 else { throw fail("truncated") }
        var bits: UInt64 = 0
        for index in 0..<8 { bits |= UInt64(bytes[position + index]) << (8 * UInt64(index)) }
        position += 8
        return Double(bitPattern: bits)
    }

    /// A count of items that each take at least one byte.
    public mutating func count() throws(ProtocolError) -> Int {
        let value = try unsigned()
        guard value <= UInt64(bytes.count - position) else { throw fail("count \(value) exceeds the bytes left") }
        return Int(value)
    }

    public mutating func string() throws(ProtocolError) -> String {
        let length = try count()
        let slice = bytes[position..<(position + length)]
        guard let value = String(validating: slice, as: UTF8.self) else { throw fail("invalid UTF-8") }
        position += length
        return value
    }

    public mutating func optional<T>(_ read: (inout WireReader) throws(ProtocolError) -> T) throws(ProtocolError) -> T? {
        guard try bool() else { return nil }
        return try read(&self)
    }

    public mutating func array<T>(_ read: (inout WireReader) throws(ProtocolError) -> T) throws(ProtocolError) -> [T] {
        let count = try count()
        var values: [T] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try read(&self)) }
        return values
    }

    public mutating func strings() throws(ProtocolError) -> [String] {
        try array { (reader: inout WireReader) throws(ProtocolError) in try reader.string() }
    }

    public mutating func map<V>(_ read: (inout WireReader) throws(ProtocolError) -> V) throws(ProtocolError) -> [String: V] {
        let count = try count()
        var values: [String: V] = [:]
        values.reserveCapacity(count)
        for _ in 0..<count {
            let key = try string()
            guard values.updateValue(try read(&self), forKey: key) == nil else { throw fail("duplicate key \"\(key)\"") }
        }
        return values
    }
}

/// A message body with a hand-written binary layout. Fields are written in declaration order;
/// changing a layout means a new protocol version.
public protocol WireBody {
    func write(to writer: inout WireWriter)
    init(from reader: inout WireReader) throws(ProtocolError)
}
