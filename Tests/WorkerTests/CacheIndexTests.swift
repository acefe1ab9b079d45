import Artifacts
import TestKit
import Testing

@testable import Worker

/// The cache's pure core: which entries go when, and which never do.
@Suite struct CacheIndexTests {
    static func digest(_ n: Int) -> Digest { SHA256Hasher.digest(ofUTF8: "entry \(n)") }

    @Test func evictsLeastRecentlyUsedFirstAndStopsOnceItFits() {
        var index = CacheIndex()
        index.insert(.blob(Self.digest(1)), size: 100, lastUse: 30)
        index.insert(.blob(Self.digest(2)), size: 100, lastUse: 10)
        index.insert(.blob(Self.digest(3)), size: 100, lastUse: 20)
        index.touch(.blob(Self.digest(2)), at: 40)
        let evicted = index.evict(toFit: 50, limit: 250)
        #expect(evicted.map(\.key) == [.blob(Self.digest(3))])
        #expect(index.totalBytes == 200)
        #expect(index.evict(toFit: 0, limit: 250).isEmpty, "nothing to do under the limit")
    }

    @Test func equalTimesBreakTiesByLastInsertionOrTouch() {
        var index = CacheIndex()
        index.insert(.blob(Self.digest(1)), size: 10, lastUse: 5)
        index.insert(.blob(Self.digest(2)), size: 10, lastUse: 5)
        index.touch(.blob(Self.digest(1)), at: 5)
        #expect(index.evict(toFit: 0, limit: 10).map(\.key) == [.blob(Self.digest(2))])
    }

    @Test func pinsAreCountedAndMayPrecedeTheEntry() {
        var index = CacheIndex()
        let key = CacheIndex.Key.blob(Self.digest(1))
        index.pin(key)  // a fetch in flight
        index.pin(key)
        index.insert(key, size: 100, lastUse: 0)
        #expect(index.evict(toFit: 0, limit: 0).isEmpty)
        index.unpin(key)
        #expect(index.evict(toFit: 0, limit: 0).isEmpty, "still pinned once")
        index.unpin(key)
        #expect(index.evict(toFit: 0, limit: 0).map(\.key) == [key])
        #expect(index.totalBytes == 0)
    }

    @Test func aCheckoutHoldsItsBlobsUntilItIsEvicted() {
        var index = CacheIndex()
        let linked = Self.digest(1)
        let other = Self.digest(2)
        index.insert(.blob(linked), size: 1000, lastUse: 1)  // oldest, but linked by the checkout
        index.insert(.blob(other), size: 10, lastUse: 2)
        index.insert(.checkout(Self.digest(9)), size: 5, lastUse: 3, holding: [linked])
        #expect(!index.isEvictable(.blob(linked)))
        // Deleting the linked blob would free nothing: the newer, unlinked blob goes first.
        #expect(index.evict(toFit: 0, limit: 1010).map(\.key) == [.blob(other)])
        // Then the checkout, which releases its blob, which (older still) goes right after it.
        let evicted = index.evict(toFit: 0, limit: 1)
        #expect(evicted.map(\.key) == [.checkout(Self.digest(9)), .blob(linked)])
        #expect(index.totalBytes == 0)
    }

    @Test func aPinnedCheckoutKeepsItsBlobsAndTheCacheMayStayOver() {
        var index = CacheIndex()
        let linked = Self.digest(1)
        index.insert(.blob(linked), size: 1000, lastUse: 1)
        index.insert(.checkout(Self.digest(9)), size: 0, lastUse: 2, holding: [linked])
        index.pin(.checkout(Self.digest(9)))
        #expect(index.evict(toFit: 100, limit: 500).isEmpty)
        #expect(index.totalBytes == 1000)
    }

    @Test func replacingAnEntryKeepsTheTotalsRight() {
        var index = CacheIndex()
        let blob = Self.digest(1)
        index.insert(.checkout(Self.digest(9)), size: 7, lastUse: 1, holding: [blob])
        index.insert(.checkout(Self.digest(9)), size: 3, lastUse: 2, holding: [blob])
        #expect(index.totalBytes == 3)
        #expect(index.holderCount(blob) == 1)
        index.remove(.checkout(Self.digest(9)))
        #expect(index.holderCount(blob) == 0)
        #expect(index.totalBytes == 0)
    }

    // MARK: Seeded random schedules

    /// A deliberately naive reference: linear scans over everything, one eviction at a time.
    struct Model {
        struct Entry { var size: Int64; var lastUse: Int64; var order: Int; var holds: Set<Digest> }
        var entries: [CacheIndex.Key: Entry] = [:]
        var pins: [CacheIndex.Key: Int] = [:]
        var order = 0
        var total: Int64 { entries.values.reduce(0) { $0 + $1.size } }

        func held(_ digest: Digest) -> Bool {
            entries.contains { if case .checkout = $0.key { $0.value.holds.contains(digest) } else { false } }
        }

        func evictable(_ key: CacheIndex.Key) -> Bool {
            guard entries[key] != nil, (pins[key] ?? 0) == 0 else { return false }
            if case .blob(let digest) = key { return !held(digest) }
            return true
        }

        mutating func insert(_ key: CacheIndex.Key, size: Int64, lastUse: Int64, holding: Set<Digest>) {
            order += 1
            if case .blob = key {
                entries[key] = Entry(size: size, lastUse: lastUse, order: order, holds: [])
            } else {
                entries[key] = Entry(size: size, lastUse: lastUse, order: order, holds: holding)
            }
        }

        mutating func touch(_ key: CacheIndex.Key, at time: Int64) {
            guard entries[key] != nil else { return }
            order += 1
            entries[key]!.lastUse = max(entries[key]!.lastUse, time)
            entries[key]!.order = order
        }

        mutating func evict(toFit incoming: Int64, limit: Int64) -> [CacheIndex.Key] {
            var evicted: [CacheIndex.Key] = []
            while total + incoming > limit {
                let oldest = entries.keys.filter(evictable).min {
                    (entries[$0]!.lastUse, entries[$0]!.order) < (entries[$1]!.lastUse, entries[$1]!.order)
                }
                guard let oldest else { break }
                entries[oldest] = nil
                evicted.append(oldest)
            }
            return evicted
        }
    }

    @Test(arguments: 0..<300)
    func randomSchedulesKeepTheInvariants(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let blobs = (0..<10).map(Self.digest)
        let checkouts = (100..<104).map(Self.digest)
        let keys = blobs.map(CacheIndex.Key.blob) + checkouts.map(CacheIndex.Key.checkout)
        var index = CacheIndex()
        var model = Model()
        var clock: Int64 = 1000
        for step in 0..<400 {
            clock += Int64.random(in: 0...3, using: &random)
            // Times sometimes go back a little (file times after a restart, a clock step).
            let time = clock - Int64.random(in: 0...5, using: &random)
            let key = keys.randomElement(using: &random)!
            let context = "seed \(seed), step \(step)"
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<30:
                let size = Int64.random(in: 0...400, using: &random)
                let holding = Set(blobs.filter { _ in random.chance(0.3) })
                index.insert(key, size: size, lastUse: time, holding: holding)
                model.insert(key, size: size, lastUse: time, holding: holding)
            case 30..<50:
                index.touch(key, at: time)
                model.touch(key, at: time)
            case 50..<62:
                index.pin(key)
                model.pins[key, default: 0] += 1
            case 62..<74:
                if let pinned = model.pins.keys.sorted().randomElement(using: &random) {
                    index.unpin(pinned)
                    model.pins[pinned]! -= 1
                    if model.pins[pinned] == 0 { model.pins[pinned] = nil }
                }
            case 74..<78:
                index.remove(key)
                model.entries[key] = nil
            default:
                let incoming = Int64.random(in: 0...500, using: &random)
                let limit = Int64.random(in: 0...2500, using: &random)
                checkEviction(&index, &model, incoming: incoming, limit: limit, context: context)
            }
            // Past the first difference every later step differs too: stop this seed there.
            guard index.totalBytes == model.total, Set(index.entries.keys) == Set(model.entries.keys),
                  keys.allSatisfy({ index.pinCount($0) == (model.pins[$0] ?? 0) }) else {
                Issue.record("\(context): the index and the reference differ after this step")
                return
            }
        }
    }

    /// One eviction, checked against the model and against the invariants on their own.
    func checkEviction(_ index: inout CacheIndex, _ model: inout Model, incoming: Int64, limit: Int64, context: String) {
        let before = index
        let initiallyEvictable = Set(before.entries.keys.filter(before.isEvictable))
        let evicted = index.evict(toFit: incoming, limit: limit)
        let expected = model.evict(toFit: incoming, limit: limit)
        #expect(evicted.map(\.key) == expected, "\(context): evictions differ from the reference")

        var total = before.totalBytes
        for (position, eviction) in evicted.enumerated() {
            // Pinned entries are never evicted.
            #expect(before.pinCount(eviction.key) == 0, "\(context): evicted pinned \(eviction.key)")
            #expect(eviction.size == before.entries[eviction.key]?.size, "\(context)")
            // A blob goes only once no remaining checkout holds it.
            if case .blob(let digest) = eviction.key {
                #expect(index.holderCount(digest) == 0, "\(context): evicted held \(eviction.key)")
            }
            // It stops as soon as the incoming bytes fit.
            #expect(total + incoming > limit, "\(context): eviction \(position) was not needed")
            total -= eviction.size
        }
        #expect(total == index.totalBytes, "\(context)")
        // Under the limit, unless everything left is protected.
        if index.totalBytes + incoming > limit {
            #expect(!index.entries.keys.contains(where: index.isEvictable), "\(context): over the limit with evictable entries")
            for key in index.entries.keys {
                switch key {
                case .checkout: #expect(index.pinCount(key) > 0, "\(context): \(key) left unpinned")
                case .blob(let digest):
                    #expect(index.pinCount(key) > 0 || index.holderCount(digest) > 0, "\(context): \(key) left unprotected")
                }
            }
        }
        // LRU: nothing evictable from the start that stays is older than what went.
        func age(_ key: CacheIndex.Key) -> (Int64, UInt64) {
            (before.entries[key]!.lastUse, before.entries[key]!.sequence)
        }
        let gone = evicted.map(\.key).filter(initiallyEvictable.contains)
        let kept = initiallyEvictable.subtracting(gone)
        if let newestGone = gone.map(age).max(by: <), let oldestKept = kept.map(age).min(by: <) {
            #expect(newestGone < oldestKept, "\(context): kept an older entry than one evicted")
        }
    }
}

@Suite struct CacheLimitTests {
    @Test func theDefaultLimitIsAQuarterOfTheDiskAtMost20GiB() {
        #expect(WorkerConfiguration.defaultCacheLimit(fileSystemBytes: 40 << 30) == 10 << 30)
        #expect(WorkerConfiguration.defaultCacheLimit(fileSystemBytes: 1 << 40) == 20 << 30)
    }
}
