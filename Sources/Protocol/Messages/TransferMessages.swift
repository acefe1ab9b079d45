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
public struct FetchChunk: Codable, Hashable, Sendable {
    public var blob: String
    public var offset: Int64
    /// The blob's whole size.
    public var size: Int64

    public init(blob: String, offset: Int64, size: Int64) {
        self.blob = blob
        self.offset = offset
        self.size = size
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
public struct UploadCredit: Codable, Hashable, Sendable {
    public var blob: String
    public var offset: Int64
    public var credit: Int

    public init(blob: String, offset: Int64, credit: Int) {
        self.blob = blob
        self.offset = offset
        self.credit = credit
    }
}

/// Worker → coordinator: bytes of a blob at `offset`, in the bulk frame.
public struct UploadChunk: Codable, Hashable, Sendable {
    public var attemptID: String
    public var blob: String
    public var offset: Int64

    public init(attemptID: String, blob: String, offset: Int64) {
        self.attemptID = attemptID
        self.blob = blob
        self.offset = offset
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
