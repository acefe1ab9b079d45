/// The coordinator's side of every dispatched attempt's lease: whose it is, which connection holds it,
/// when that holder last confirmed it, and what becomes of it when the holder goes.
///
/// Pure: the service feeds it events (dispatch, confirmation, a worker naming attempts, a holder lost,
/// a clock tick, an attempt ending) and carries out the actions it returns (bind, cancel, log, give
/// up). Time is the service's monotonic milliseconds, passed in.
///
/// The rules:
/// - An attempt belongs to the ``WorkerIdentity`` it was dispatched to, for good. Only that identity
///   re-attaches it (``AttemptOwnership``), whatever name or connection claims it.
/// - A holder confirms its lease with every heartbeat and report; a lease unconfirmed for
///   `timeoutMilliseconds` is given up at the next tick, once (the worker fences itself earlier).
/// - When a holder is lost, its attempts become orphans: they may still run there, so they are not
///   given up before their lease runs out, and their owner may re-attach them meanwhile.
public struct AttemptLifecycle: Sendable {
    /// One dispatched attempt's lease.
    public struct Lease: Hashable, Sendable {
        /// The identity it was dispatched to.
        public let owner: WorkerIdentity
        /// The connected worker (registration id) holding it; nil while it is an orphan.
        public fileprivate(set) var holder: String?
        /// When its holder last confirmed it, or when it was dispatched or re-attached (orphaning it
        /// does not move this: its lease runs on from the last confirmation).
        public fileprivate(set) var confirmedAt: Int64
        /// Set while it is an orphan: how it is classified if it is given up.
        public fileprivate(set) var orphan: Orphan?
    }

    /// Why an attempt has no holder.
    public struct Orphan: Hashable, Sendable {
        /// The name of the worker that held it.
        public var workerName: String
        /// How it is classified if nobody re-attaches it in time.
        public var failure: FailureClass
        public var reason: String

        public init(workerName: String, failure: FailureClass, reason: String) {
            self.workerName = workerName
            self.failure = failure
            self.reason = reason
        }
    }

    public enum Event: Sendable {
        /// The attempt was sent to `workerID`, whose identity is `identity`.
        case dispatched(attemptID: String, workerID: String, identity: WorkerIdentity, now: Int64)
        /// After a coordinator restart: a recorded attempt that may still run on a worker.
        case restored(attemptID: String, owner: WorkerIdentity, orphan: Orphan, now: Int64)
        /// `workerID` said something about the attempt (a report, a log chunk): it is alive there.
        case confirmed(attemptID: String, workerID: String, now: Int64)
        /// `workerID` (identity `identity`) named the attempts it holds, in its hello or a heartbeat.
        /// `committed`: those of them whose success is recorded for this identity.
        case claimed(attemptIDs: [String], workerID: String, identity: WorkerIdentity, committed: Set<String>, now: Int64)
        /// The attempt's holder is gone; the attempt may still run there.
        case orphaned(attemptID: String, orphan: Orphan, now: Int64)
        /// The attempt is over (finished, stopped, handed back, given up): its lease ends.
        case ended(attemptID: String)
        /// The clock moved: leases unconfirmed for the timeout are given up.
        case tick(now: Int64)
    }

    public enum Action: Hashable, Sendable {
        /// Bind the attempt to `workerID` (it was an orphan, or held by an earlier connection of the
        /// same identity, `previousHolder`).
        case reattach(attemptID: String, workerID: String, previousHolder: String?, wasOrphan: Bool)
        /// Tell `workerID` to cancel the attempt: nobody wants it, or it is not that worker's.
        case cancel(attemptID: String, workerID: String, reason: String)
        /// `claimant` named an attempt dispatched to `owner` (nil: unknown): log both.
        case refused(attemptID: String, workerID: String, claimant: WorkerIdentity, owner: WorkerIdentity?)
        /// Nothing was heard of the attempt for the timeout: give it up as `failure`. `holder` is the
        /// connected worker still holding it (it is told to cancel), nil for an orphan.
        case expired(attemptID: String, holder: String?, workerName: String?, failure: FailureClass, reason: String)
    }

    /// How long an unconfirmed lease lasts, in milliseconds.
    public let timeoutMilliseconds: Int64
    /// Every dispatched attempt's lease, by attempt id.
    public private(set) var leases: [String: Lease] = [:]

    public init(timeoutMilliseconds: Int64) {
        precondition(timeoutMilliseconds > 0, "AttemptLifecycle: the lease timeout must be positive")
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    /// The connected worker holding `attemptID`, if any.
    public func holder(of attemptID: String) -> String? {
        leases[attemptID]?.holder
    }

    /// Whether `workerID`, whose identity is `identity`, holds `attemptID`: reports about the attempt
    /// are accepted from it and from nobody else. (A registration id can be reused by another
    /// connection; an identity cannot, so both must match.)
    public func isHeld(_ attemptID: String, by workerID: String, identity: WorkerIdentity) -> Bool {
        guard let lease = leases[attemptID] else { return false }
        return lease.holder == workerID && lease.owner == identity
    }

    /// Applies one event; returns what the service must do, in order.
    public mutating func on(_ event: Event) -> [Action] {
        switch event {
        case .dispatched(let attemptID, let workerID, let identity, let now):
            leases[attemptID] = Lease(owner: identity, holder: workerID, confirmedAt: now, orphan: nil)
            return []
        case .restored(let attemptID, let owner, let orphan, let now):
            leases[attemptID] = Lease(owner: owner, holder: nil, confirmedAt: now, orphan: orphan)
            return []
        case .confirmed(let attemptID, let workerID, let now):
            if leases[attemptID]?.holder == workerID { leases[attemptID]!.confirmedAt = now }
            return []
        case .claimed(let attemptIDs, let workerID, let identity, let committed, let now):
            return claim(Set(attemptIDs).sorted(), workerID: workerID, identity: identity, committed: committed, now: now)
        case .orphaned(let attemptID, let orphan, _):
            guard leases[attemptID] != nil else { return [] }
            leases[attemptID]!.holder = nil
            leases[attemptID]!.orphan = orphan
            return []
        case .ended(let attemptID):
            leases[attemptID] = nil
            return []
        case .tick(let now):
            return expire(now: now)
        }
    }

    private mutating func claim(_ attemptIDs: [String], workerID: String, identity: WorkerIdentity, committed: Set<String>, now: Int64) -> [Action] {
        var actions: [Action] = []
        for attemptID in attemptIDs {
            let lease = leases[attemptID]
            let known = lease.map { AttemptOwnership.Known(isCurrent: true, isCommitted: false, owner: $0.owner, holder: $0.holder) }
                ?? .notCurrent(committed: committed.contains(attemptID))
            switch AttemptOwnership.decide(known, claimant: identity, workerID: workerID) {
            case .confirm:
                leases[attemptID]!.confirmedAt = now
            case .reattach:
                let wasOrphan = lease?.orphan != nil
                leases[attemptID]!.holder = workerID
                leases[attemptID]!.orphan = nil
                leases[attemptID]!.confirmedAt = now
                actions.append(.reattach(attemptID: attemptID, workerID: workerID, previousHolder: lease?.holder, wasOrphan: wasOrphan))
            case .recorded:
                // Its success is recorded; the worker names it until the acknowledgement arrives.
                break
            case .unwanted:
                actions.append(.cancel(attemptID: attemptID, workerID: workerID, reason: "the coordinator no longer wants this attempt"))
            case .refused(let owner):
                actions.append(.refused(attemptID: attemptID, workerID: workerID, claimant: identity, owner: owner))
                actions.append(.cancel(attemptID: attemptID, workerID: workerID, reason: "this attempt was dispatched to another worker's key"))
            }
        }
        return actions
    }

    private mutating func expire(now: Int64) -> [Action] {
        var actions: [Action] = []
        for (attemptID, lease) in leases.sorted(by: { $0.key < $1.key }) where now - lease.confirmedAt >= timeoutMilliseconds {
            leases[attemptID] = nil
            let seconds = timeoutMilliseconds / 1000
            if let orphan = lease.orphan {
                actions.append(.expired(
                    attemptID: attemptID, holder: nil, workerName: orphan.workerName, failure: orphan.failure,
                    reason: orphan.reason + "; nothing was heard of the attempt for \(seconds) s"))
            } else {
                actions.append(.expired(
                    attemptID: attemptID, holder: lease.holder, workerName: lease.holder, failure: .workerLost,
                    reason: "worker \(lease.holder ?? "?") did not confirm the attempt for \(seconds) s (its lease ran out)"))
            }
        }
        return actions
    }
}
