import CZeroMQ

/// One CURVE key (Curve25519, 32 bytes): a public or a secret key.
///
/// Made from 32 raw bytes or from its 40-character Z85 text (the form libzmq, the key files and the
/// allow-list use). Validation happens here, so a socket option holding a key is always usable.
/// ``description`` never shows the bytes: a secret key must not reach a log by accident.
public struct ZMQCurveKey: Sendable, Hashable, CustomStringConvertible {
    /// Bytes in a key.
    public static let byteCount = 32
    /// Characters in a key's Z85 text.
    public static let textCount = 40

    /// The 32 key bytes.
    public let bytes: [UInt8]

    /// Wraps 32 raw key bytes.
    ///
    /// - Throws: ``ZMQError/Code/invalidArgument`` for any other length.
    public init(bytes: [UInt8]) throws(ZMQError) {
        guard bytes.count == Self.byteCount else {
            throw ZMQError(code: .invalidArgument, message: "a CURVE key is \(Self.byteCount) bytes, got \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// Decodes a key from its 40-character Z85 text (`zmq_z85_decode`).
    ///
    /// - Throws: ``ZMQError/Code/invalidArgument`` when `z85` is not 40 characters of the Z85 alphabet.
    public init(z85: String) throws(ZMQError) {
        let text = Array(z85.utf8)
        guard text.count == Self.textCount else {
            throw ZMQError(
                code: .invalidArgument,
                message: "a CURVE key in Z85 is \(Self.textCount) characters, got \(text.count)")
        }
        var decoded = [UInt8](repeating: 0, count: Self.byteCount)
        let result = z85.withCString { source in
            decoded.withUnsafeMutableBufferPointer { zmq_z85_decode($0.baseAddress, source) }
        }
        guard result != nil else {
            throw ZMQError(code: .invalidArgument, message: "not a CURVE key: \"\(z85)\" is not valid Z85 text")
        }
        bytes = decoded
    }

    /// The key as 40 characters of Z85 (`zmq_z85_encode`).
    public var z85: String {
        var text = [CChar](repeating: 0, count: Self.textCount + 1)
        bytes.withUnsafeBufferPointer { source in
            _ = zmq_z85_encode(&text, source.baseAddress, source.count)
        }
        return String(decoding: text.prefix(Self.textCount).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `CURVE key` and nothing of the key itself.
    public var description: String { "CURVE key" }
}

/// A CURVE key pair: a secret key and the public key that goes with it.
///
/// ``description`` shows the public key only.
public struct ZMQCurveKeyPair: Sendable, Hashable, CustomStringConvertible {
    /// The key others pin or allow; safe to share.
    public let publicKey: ZMQCurveKey
    /// The key only its owner may read.
    public let secretKey: ZMQCurveKey

    /// The pair for `secretKey`, its public key derived with `zmq_curve_public`.
    ///
    /// - Throws: ``ZMQError`` when libzmq was built without CURVE support.
    public init(secretKey: ZMQCurveKey) throws(ZMQError) {
        self.secretKey = secretKey
        self.publicKey = try Self.publicKey(fromSecret: secretKey)
    }

    /// A fresh random key pair (`zmq_curve_keypair`).
    ///
    /// - Throws: ``ZMQError`` when libzmq was built without CURVE support (`ENOTSUP`).
    public static func generate() throws(ZMQError) -> ZMQCurveKeyPair {
        var publicText = [CChar](repeating: 0, count: ZMQCurveKey.textCount + 1)
        var secretText = [CChar](repeating: 0, count: ZMQCurveKey.textCount + 1)
        defer { for index in secretText.indices { secretText[index] = 0 } }
        guard zmq_curve_keypair(&publicText, &secretText) == 0 else {
            throw ZMQError.last("cannot generate a CURVE key pair (is libzmq built with CURVE support?)")
        }
        let secret = try ZMQCurveKey(z85: Self.text(secretText))
        let pair = try ZMQCurveKeyPair(secretKey: secret)
        precondition(pair.publicKey.z85 == ZMQCurveKeyPair.text(publicText), "zmq_curve_public disagrees with zmq_curve_keypair")
        return pair
    }

    /// The public key that belongs to `secret` (`zmq_curve_public`).
    ///
    /// - Throws: ``ZMQError`` when libzmq was built without CURVE support.
    public static func publicKey(fromSecret secret: ZMQCurveKey) throws(ZMQError) -> ZMQCurveKey {
        var publicText = [CChar](repeating: 0, count: ZMQCurveKey.textCount + 1)
        let secretText = secret.z85
        let result = secretText.withCString { zmq_curve_public(&publicText, $0) }
        guard result == 0 else {
            throw ZMQError.last("cannot derive a CURVE public key (is libzmq built with CURVE support?)")
        }
        return try ZMQCurveKey(z85: ZMQCurveKeyPair.text(publicText))
    }

    /// The text before the terminating 0 of a C string buffer.
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `CURVE key pair (public Z85)`.
    public var description: String { "CURVE key pair (public \(publicKey.z85))" }
}

/// Which end of a CURVE handshake a socket is, and with which keys.
public enum ZMQCurveRole: Sendable, Hashable {
    /// The server (`ZMQ_CURVE_SERVER`): clients must know its public key; each client's key is checked
    /// by the loop's ZAP handler (see ``ZMQLoop/installZAPHandler(allowList:)``), which a loop must have
    /// before it opens such a socket.
    case server(ZMQCurveKeyPair)
    /// A client with its own key pair, talking only to the server whose public key is `serverPublicKey`
    /// (a server with another key fails the handshake, and nothing passes). When the server refuses this
    /// client's key, the loop connects again a second later (libzmq alone would give that connection up
    /// for good), so a key allowed later gets through without reopening the socket.
    case client(ZMQCurveKeyPair, serverPublicKey: ZMQCurveKey)
}
