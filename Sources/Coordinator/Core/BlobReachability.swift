import Artifacts

/// Which blobs of the artifact store something still refers to: a pure walk over digests.
///
/// The roots are the digests named by what stays (runs' submissions, steps' outputs and cache
/// manifests, attempts' MLflow stores, cache entries, registered data assets). A root that is a
/// tree manifest brings its entries: a manifest's files are blobs too. Entries are not walked
/// further (a file whose bytes happen to be a manifest is kept, not followed). The manifests come
/// from the `entries` function, so the walk itself reads nothing: the shell reads the store, tests
/// pass a dictionary.
public struct BlobReachability: Sendable {
    /// Every digest reached so far: roots and the entries of the roots that are manifests.
    public private(set) var reachable: Set<Digest> = []
    /// Roots already expanded.
    private var expanded: Set<Digest> = []

    public init() {}

    /// Adds `roots`, and for each one that is a manifest (`entries` gives its file digests; nil
    /// when the digest is not a manifest or is not stored) those files.
    public mutating func add(roots: some Sequence<Digest>, entries: (Digest) -> [Digest]?) {
        for root in roots where expanded.insert(root).inserted {
            reachable.insert(root)
            if let files = entries(root) { reachable.formUnion(files) }
        }
    }

    /// Whether `digest`, and every file of it when it is a manifest, is reachable: what a cache
    /// entry needs to stay usable.
    public func keepsWhole(_ digest: Digest, entries: (Digest) -> [Digest]?) -> Bool {
        guard reachable.contains(digest) else { return false }
        return (entries(digest) ?? []).allSatisfy { reachable.contains($0) }
    }

    /// Every 64-hex-digit word of `text` as a digest (what a JSON column names). Conservative: a
    /// word that only looks like a digest keeps the blob of that name, if there is one.
    public static func digests(in text: String) -> Set<Digest> {
        var found = Set<Digest>()
        var run: [UInt8] = []
        run.reserveCapacity(64)
        func flush() {
            if run.count == 64, let digest = Digest(hex: String(decoding: run, as: UTF8.self)) { found.insert(digest) }
            run.removeAll(keepingCapacity: true)
        }
        for byte in text.utf8 {
            let isHex = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46)
            if isHex {
                run.append(byte)
            } else {
                flush()
            }
        }
        flush()
        return found
    }
}
