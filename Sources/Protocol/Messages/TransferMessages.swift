/// Worker → coordinator: send me chunks of this blob, starting at `offset`.
///
/// Flow control is by credit: the coordinator sends at most `credit` chunks, then waits for the
/// next request.
public struct FetchRequest: Codable, Hashable, Sendable {
    public var blob: String
    public var offset: Int64
    public var credit: Int

    public init(blob: String, offset: Int64, credit: Int) {
        self.blob = blob
        self.offset = offset
        self.credit = credit
    }
}

/// Coordinator → worker: bytes `offset..<offset+n` of a blob, in the bulk frame.
///
/// A worker drops a chunk that does not match `checksum`, or that does not start where its copy ends,
/// and asks again from the end of its copy.
public struct FetchChunk: Codable, Hashable, Sendable {
    public var blob: String
    public var offset: Int64
    /// The blob's whole size.
    public var size: Int64
    /// The first 8 bytes (big-endian) of the SHA-256 of the blob's bytes `0..<offset+n`: the digest of
    /// everything up to and including this chunk, which the receiver computes as it appends anyway.
    public var checksum: UInt64

    public init(blob: String, offset: Int64, size: Int64, checksum: UInt64) {
        self.blob = blob
        self.offset = offset
        self.size = size
        self.checksum = checksum
    }
}

/// Coordinator → worker: a blob cannot be served.
public struct FetchFailed: Codable, Hashable, Sendable {
    public var blob: String
    public var reason: String

    public init(blob: String, reason: String) {
        self.blob = blob
        self.reason = reason
    }
}

/// Worker → coordinator: I have this blob for an attempt's output.
public struct UploadBegin: Codable, Hashable, Sendable {
    public var attemptID: String
    public var blob: String
    public var size: Int64

    public init(attemptID: String, blob: String, size: Int64) {
        self.attemptID = attemptID
        self.blob = blob
        self.size = size
    }
}

/// Coordinator → worker: send up to `credit` chunks starting at `offset`.
///
/// `offset` is what the coordinator has stored and acknowledges. Normally the worker is already past
/// it and goes on from its own cursor; with `rewind` the coordinator dropped a chunk (its checksum did
/// not match, or one before it went missing) and the worker must send again from `offset`.
public struct UploadCredit: Codable, Hashable, Sendable {
    public var blob: String
    public var offset: Int64
    public var credit: Int
    /// Send again from `offset`, whatever was sent already.
    public var rewind: Bool

    public init(blob: String, offset: Int64, credit: Int, rewind: Bool = false) {
        self.blob = blob
        self.offset = offset
        self.credit = credit
        self.rewind = rewind
    }
}

/// Worker → coordinator: bytes of a blob at `offset`, in the bulk frame.
public struct UploadChunk: Codable, Hashable, Sendable {
    public var attemptID: String
    public var blob: String
    public var offset: Int64
    /// The first 8 bytes (big-endian) of the SHA-256 of the blob's bytes `0..<offset+n`: the digest of
    /// everything up to and including this chunk, which the receiver computes as it appends anyway.
    public var checksum: UInt64

    public init(attemptID: String, blob: String, offset: Int64, checksum: UInt64) {
        self.attemptID = attemptID
        self.blob = blob
        self.offset = offset
        self.checksum = checksum
    }
}

/// Coordinator → worker: the blob is stored and verified, or the upload failed.
public struct UploadStored: Codable, Hashable, Sendable {
    public var blob: String
    public var ok: Bool
    public var reason: String?

    public init(blob: String, ok: Bool, reason: String? = nil) {
        self.blob = blob
        self.ok = ok
        self.reason = reason
    }
}

extension Payload {
    /// Whether this message is a chunk of a blob transfer (``FetchChunk``, ``UploadChunk``).
    ///
    /// Transports queue these behind every other message waiting to go to the same peer, so a
    /// heartbeat, acknowledgement or dispatch never waits for queued chunks. Log chunks are not
    /// transfer chunks: they must stay in order with the reports that follow them.
    public var isTransferChunk: Bool {
        switch self {
        case .fetchChunk, .uploadChunk: true
        default: false
        }
    }
}
