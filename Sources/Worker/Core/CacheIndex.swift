import Artifacts

/// What a worker's content cache holds, how recently each entry was used, and which entries must
/// stay: the pure decisions behind its size limit (least recently used first).
///
/// Entries are blobs (`cache/blobs/…`) and input checkouts (`cache/checkouts/DIGEST`). A
/// checkout's files are hard links to blobs, so deleting such a blob frees nothing while the
/// checkout exists. The index therefore lets a checkout *hold* blobs: its own ``Entry/size`` counts
/// only bytes that are not links (executable files, which are copies), and a blob held by any
/// checkout in the index is never evicted on its own. Evicting a checkout releases its blobs, which
/// are then evicted in their own least-recently-used turn (usually at once: using a checkout
/// touches the checkout, not its blobs). A checkout also holds its manifest blob, which a worker
/// restarting needs in order to know what the checkout links.
///
/// A pinned entry is never evicted: one read by a running attempt, fetched or uploaded right now,
/// or an output the coordinator has not yet acknowledged. Pins are counted and may name an entry
/// not yet inserted (a blob being fetched), which is then protected from its arrival on.
///
/// Pure: no files, no clock. The shell passes times in (any monotone scale; the worker uses wall
/// milliseconds, so that file modification times can restore the order after a restart) and
/// deletes what ``evict(toFit:limit:)`` returns.
public struct CacheIndex: Sendable {
    /// An entry of the cache.
    public enum Key: Hashable, Sendable, Comparable, CustomStringConvertible {
        /// A blob under `cache/blobs`.
        case blob(Digest)
        /// The read-only checkout of an artifact under `cache/checkouts`.
        case checkout(Digest)

        public var description: String {
            switch self {
            case .blob(let digest): "blob \(digest.hex.prefix(12))"
            case .checkout(let digest): "checkout \(digest.hex.prefix(12))"
            }
        }
    }

    /// What the index knows of one entry.
    public struct Entry: Sendable, Hashable {
        /// Bytes this entry alone occupies (for a checkout: its copied files, not its links).
        public var size: Int64
        /// When it was last used, in the caller's time scale.
        public var lastUse: Int64
        /// The blobs a checkout holds (links to them, and its manifest); empty for a blob.
        public var holds: Set<Digest>
        /// Breaks ties between equal `lastUse` values: the later insertion or touch is newer.
        var sequence: UInt64
    }

    /// An entry the caller must now delete.
    public struct Eviction: Sendable, Hashable {
        public var key: Key
        public var size: Int64
    }

    /// Every entry, by key.
    public private(set) var entries: [Key: Entry] = [:]
    /// The sum of every entry's ``Entry/size``.
    public private(set) var totalBytes: Int64 = 0
    /// Pin counts (only positive counts are stored).
    private var pins: [Key: Int] = [:]
    /// For each blob, how many checkouts in the index hold it.
    private var holders: [Digest: Int] = [:]
    private var sequence: UInt64 = 0

    public init() {}

    /// The number of entries.
    public var count: Int { entries.count }

    /// Adds an entry, or replaces the one under `key` (a blob written again, a checkout rebuilt).
    ///
    /// - Parameter holding: for a checkout, the blobs it links and its manifest; ignored for a blob.
    public mutating func insert(_ key: Key, size: Int64, lastUse: Int64, holding: Set<Digest> = []) {
        precondition(size >= 0, "CacheIndex.insert(\(key), size: \(size)): negative size")
        remove(key)
        sequence += 1
        let holds: Set<Digest>
        if case .checkout = key { holds = holding } else { holds = [] }
        entries[key] = Entry(size: size, lastUse: lastUse, holds: holds, sequence: sequence)
        totalBytes += size
        for digest in holds { holders[digest, default: 0] += 1 }
    }

    /// Marks the entry used at `time` (never moving it back in time); a no-op when absent.
    public mutating func touch(_ key: Key, at time: Int64) {
        guard var entry = entries[key] else { return }
        sequence += 1
        entry.lastUse = max(entry.lastUse, time)
        entry.sequence = sequence
        entries[key] = entry
    }

    /// Forgets an entry without asking for it to be deleted (it is gone already); a no-op when
    /// absent. Pins on it stay.
    public mutating func remove(_ key: Key) {
        guard let entry = entries.removeValue(forKey: key) else { return }
        totalBytes -= entry.size
        for digest in entry.holds { release(digest) }
    }

    /// Protects `key` from eviction until a matching ``unpin(_:)``; it need not be present yet.
    public mutating func pin(_ key: Key) {
        pins[key, default: 0] += 1
    }

    /// Undoes one ``pin(_:)``.
    public mutating func unpin(_ key: Key) {
        guard let count = pins[key] else {
            preconditionFailure("CacheIndex.unpin(\(key)): not pinned")
        }
        pins[key] = count > 1 ? count - 1 : nil
    }

    /// How many pins `key` has.
    public func pinCount(_ key: Key) -> Int { pins[key] ?? 0 }

    /// How many checkouts in the index hold the blob.
    public func holderCount(_ digest: Digest) -> Int { holders[digest] ?? 0 }

    /// Whether evicting `key` now is allowed and would free its bytes: present, not pinned, and
    /// (for a blob) held by no checkout.
    public func isEvictable(_ key: Key) -> Bool {
        guard entries[key] != nil, pins[key] == nil else { return false }
        if case .blob(let digest) = key, holders[digest] != nil { return false }
        return true
    }

    /// Removes entries, least recently used first, until `incoming` more bytes fit under `limit`,
    /// and returns them in that order for the caller to delete.
    ///
    /// Never returns a pinned entry, nor a blob a remaining checkout holds. Returns fewer entries
    /// than needed (possibly none) when only protected ones are left: the cache then stays over
    /// its limit until they are unpinned.
    public mutating func evict(toFit incoming: Int64, limit: Int64) -> [Eviction] {
        guard totalBytes + incoming > limit else { return [] }
        // Newest first, so the least recently used is at the end.
        var candidates = entries.keys.filter { isEvictable($0) }.sorted { isNewer($0, than: $1) }
        var evicted: [Eviction] = []
        while totalBytes + incoming > limit, let key = candidates.popLast() {
            let entry = entries[key]!
            remove(key)
            evicted.append(Eviction(key: key, size: entry.size))
            for digest in entry.holds where isEvictable(.blob(digest)) {
                // Released by the checkout just evicted: a candidate in its own LRU place.
                let blob = Key.blob(digest)
                let position = candidates.partitionPoint { isNewer(blob, than: $0) }
                candidates.insert(blob, at: position)
            }
        }
        return evicted
    }

    // MARK: - Internals

    private mutating func release(_ digest: Digest) {
        guard let count = holders[digest] else { return }
        holders[digest] = count > 1 ? count - 1 : nil
    }

    /// Whether `a` was used more recently than `b` (both present).
    private func isNewer(_ a: Key, than b: Key) -> Bool {
        let left = entries[a]!
        let right = entries[b]!
        return (left.lastUse, left.sequence) > (right.lastUse, right.sequence)
    }
}

extension Array {
    /// The first index whose element satisfies `belongsAfter`, for an array partitioned so that
    /// every element failing it comes first.
    fileprivate func partitionPoint(_ belongsAfter: (Element) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if belongsAfter(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
