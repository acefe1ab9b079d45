import Artifacts
import Foundation
import Logging
import Protocol

/// Who holds pins on cache entries (see `CacheIndex`).
enum CachePinOwner: Hashable {
    /// An attempt's code and inputs (and the blobs fetched for them): until the attempt ends.
    case inputs(String)
    /// An attempt's outputs: until the coordinator acknowledges its report (or it is discarded).
    case outputs(String)
}

/// The worker's cache bookkeeping: the pure index, its limit, and who pinned what.
struct CacheState {
    var index = CacheIndex()
    /// The most bytes the cache may hold (see `WorkerConfiguration.cacheLimitBytes`).
    let limit: Int64
    var pins: [CachePinOwner: [CacheIndex.Key]] = [:]
    /// Names checkouts moved aside for deletion.
    var evictionCounter = 0
}

/// The shell around `CacheIndex`: keeps `WORKDIR/cache` under its size limit.
///
/// Every blob that arrives (fetched, or an output snapshotted) and every checkout made is
/// recorded; when the cache would go over its limit, the least recently used entries that are
/// not pinned are deleted. A use updates the file's modification time (at most once a minute per
/// entry), so the order survives a restart: `loadCache` rebuilds the index from the files.
///
/// Pins are released lazily: before each eviction, the pins of attempts that have ended (inputs)
/// or whose report was acknowledged or discarded (outputs) are dropped. Nothing else reads them,
/// so the worker needs no hook at each place an attempt can end.
extension WorkerService {
    /// How long a use may go unrecorded on disk: an entry's modification time is updated when
    /// it is used and its recorded last use is older than this (milliseconds).
    static let cacheTouchGranularity: Int64 = 60_000

    // MARK: Start

    /// Rebuilds the cache index from `store`'s files (modification times as last use), removes
    /// partial and orphaned checkouts, and evicts down to the limit.
    static func loadCache(store: BlobStore, workDirectory: String, configuredLimit: Int64?, logger: Logger) -> CacheState {
        let limit = configuredLimit
            ?? fileSystemBytes(at: workDirectory).map(WorkerConfiguration.defaultCacheLimit(fileSystemBytes:))
            ?? 20 << 30
        var state = CacheState(limit: limit)
        let blobs = store.root + "/blobs"
        for prefix in directoryNames(blobs) where prefix.count == 2 {
            for rest in directoryNames(blobs + "/" + prefix) {
                guard let digest = Digest(hex: prefix + rest), let info = lstatInfo(store.path(of: digest)),
                      (info.st_mode & S_IFMT) == S_IFREG else { continue }
                state.index.insert(.blob(digest), size: Int64(info.st_size), lastUse: milliseconds(info.st_mtim))
            }
        }
        let checkouts = workDirectory + "/cache/checkouts"
        var removed = 0
        for name in directoryNames(checkouts) {
            let path = checkouts + "/" + name
            // A partial build, one being deleted, or anything else that is not a whole checkout.
            let manifest = Digest(hex: name).flatMap { try? store.manifest($0) }
            let holds = manifest.map(checkoutHolds) ?? []
            guard let manifest, let info = lstatInfo(path), (info.st_mode & S_IFMT) == S_IFDIR,
                  holds.allSatisfy({ state.index.entries[.blob($0)] != nil }) else {
                removeTree(path)
                removed += 1
                continue
            }
            let digest = manifest.digest
            state.index.insert(
                .checkout(digest), size: checkoutOwnSize(manifest), lastUse: milliseconds(info.st_mtim), holding: holds)
        }
        if removed > 0 { logger.info("cache: removed \(removed) partial or orphaned checkout(s)") }
        let evicted = state.index.evict(toFit: 0, limit: limit)
        for eviction in evicted {
            delete(eviction, store: store, checkouts: checkouts, counter: &state.evictionCounter, logger: logger)
        }
        let summary = "cache: \(state.index.count) entries, \(ByteCount.format(state.index.totalBytes)) of \(ByteCount.format(limit))"
            + (evicted.isEmpty ? "" : "; evicted \(evicted.count) to fit the limit")
        logger.info("\(summary)")
        return state
    }

    // MARK: Use and pins

    /// Pins `key` for `owner` until the owner is done (see the release rules above).
    func pinCache(_ key: CacheIndex.Key, owner: CachePinOwner) {
        cacheState.index.pin(key)
        cacheState.pins[owner, default: []].append(key)
    }

    /// Records a use of `key`: in the index, and on disk when the last recorded use is old.
    func touchCache(_ key: CacheIndex.Key) {
        guard let entry = cacheState.index.entries[key] else { return }
        let now = Self.now()
        cacheState.index.touch(key, at: now)
        if now - entry.lastUse >= Self.cacheTouchGranularity {
            // Leave the access time, set the modification time to now (Linux's UTIME_OMIT and
            // UTIME_NOW, spelled out: the C macros are not imported).
            var times = [timespec(tv_sec: 0, tv_nsec: (1 << 30) - 2), timespec(tv_sec: 0, tv_nsec: (1 << 30) - 1)]
            _ = utimensat(AT_FDCWD, cachePath(of: key), &times, AT_SYMLINK_NOFOLLOW)
        }
    }

    /// Records a blob or checkout now on disk (a use when already known), then keeps the limit.
    func recordInCache(_ key: CacheIndex.Key, size: Int64, holding: Set<Digest> = []) {
        if cacheState.index.entries[key] != nil {
            touchCache(key)
        } else {
            cacheState.index.insert(key, size: size, lastUse: Self.now(), holding: holding)
        }
        makeRoomInCache(for: 0)
    }

    /// Records a succeeded attempt's output (blobs and manifest, already stored by the snapshot)
    /// and pins it until the coordinator acknowledges the report.
    func admitOutput(_ manifest: TreeManifest, attemptID: String) {
        var keys = Set(manifest.entries.compactMap(\.digest)).sorted().map(CacheIndex.Key.blob)
        keys.append(.blob(manifest.digest))
        for key in keys {
            pinCache(key, owner: .outputs(attemptID))
            guard case .blob(let digest) = key else { continue }
            if cacheState.index.entries[key] != nil {
                touchCache(key)
            } else {
                cacheState.index.insert(key, size: cache.size(of: digest) ?? 0, lastUse: Self.now())
            }
        }
        makeRoomInCache(for: 0)
    }

    /// Evicts ahead of snapshotting an output, by the bytes its files hold (a walk of `lstat`s).
    func makeRoomForOutput(at path: String) {
        makeRoomInCache(for: Self.diskUsage(path))
    }

    /// Drops the pins of owners that are done, then evicts until `incoming` more bytes fit.
    func makeRoomInCache(for incoming: Int64) {
        releaseFinishedPins()
        let evicted = cacheState.index.evict(toFit: incoming, limit: cacheState.limit)
        guard !evicted.isEmpty else { return }
        let checkoutsRoot = configuration.workDirectory + "/cache/checkouts"
        for eviction in evicted {
            if case .checkout(let digest) = eviction.key { checkouts[digest] = nil }
            Self.delete(eviction, store: cache, checkouts: checkoutsRoot, counter: &cacheState.evictionCounter, logger: logger)
        }
        let freed = evicted.reduce(Int64(0)) { $0 + $1.size }
        logger.info(
            "cache: evicted \(evicted.count) least recently used entries (\(ByteCount.format(freed))); now \(ByteCount.format(cacheState.index.totalBytes)) of \(ByteCount.format(cacheState.limit))")
    }

    /// Unpins what ended attempts held: inputs once the attempt is no longer running, outputs once
    /// its report is no longer pending either (acknowledged, or discarded with its lease).
    func releaseFinishedPins() {
        for (owner, keys) in cacheState.pins {
            let done = switch owner {
            case .inputs(let id): !core.holds(id)
            case .outputs(let id): !core.holds(id) && core.pendingReport(id) == nil
            }
            guard done else { continue }
            for key in keys { cacheState.index.unpin(key) }
            cacheState.pins[owner] = nil
        }
    }

    // MARK: Internals

    func cachePath(of key: CacheIndex.Key) -> String {
        switch key {
        case .blob(let digest): cache.path(of: digest)
        case .checkout(let digest): configuration.workDirectory + "/cache/checkouts/" + digest.hex
        }
    }

    /// What a checkout of `manifest` holds: the blobs its files link, and the manifest itself.
    static func checkoutHolds(_ manifest: TreeManifest) -> Set<Digest> {
        var holds: Set<Digest> = [manifest.digest]
        for entry in manifest.entries where !entry.isExecutable {
            if let digest = entry.digest { holds.insert(digest) }
        }
        return holds
    }

    /// The bytes a checkout of `manifest` occupies beyond its links: executable files are copies.
    static func checkoutOwnSize(_ manifest: TreeManifest) -> Int64 {
        manifest.entries.filter { $0.isExecutable && $0.digest != nil }.reduce(0) { $0 + $1.size }
    }

    /// Deletes an evicted entry. A checkout is first renamed aside (`.evicting-…`), so that a
    /// crash midway never leaves a partial tree under its real name (the next start removes it).
    static func delete(
        _ eviction: CacheIndex.Eviction, store: BlobStore, checkouts: String, counter: inout Int, logger: Logger
    ) {
        logger.debug("cache: evicting \(eviction.key) (\(ByteCount.format(eviction.size)))")
        switch eviction.key {
        case .blob(let digest):
            store.remove(digest)
        case .checkout(let digest):
            counter += 1
            let path = checkouts + "/" + digest.hex
            let aside = checkouts + "/.evicting-\(getpid())-\(counter)"
            removeTree(rename(path, aside) == 0 ? aside : path)
        }
    }

    /// Removes a tree, read-only directories included, never following a symlink.
    static func removeTree(_ path: String) {
        guard let info = lstatInfo(path) else { return }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            unlink(path)
            return
        }
        chmod(path, 0o755)
        for name in directoryNames(path) { removeTree(path + "/" + name) }
        rmdir(path)
    }

    /// The bytes of the regular files under `path` (or of `path` itself), without following links.
    static func diskUsage(_ path: String) -> Int64 {
        guard let info = lstatInfo(path) else { return 0 }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return Int64(info.st_size)
        case S_IFDIR: return directoryNames(path).reduce(0) { $0 + diskUsage(path + "/" + $1) }
        default: return 0
        }
    }

    static func directoryNames(_ path: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    }

    static func lstatInfo(_ path: String) -> stat? {
        var info = stat()
        return lstat(path, &info) == 0 ? info : nil
    }

    static func milliseconds(_ time: timespec) -> Int64 {
        Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }

    /// The size of the file system holding `path`, or nil when unknown.
    static func fileSystemBytes(at path: String) -> Int64? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return Int64(info.f_blocks) * Int64(info.f_frsize)
    }
}
