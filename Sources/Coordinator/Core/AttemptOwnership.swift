/// Who may hold a dispatched attempt: the pure decision behind re-attaching attempts that a worker
/// names (in its `hello` and in every heartbeat), after a reconnect or a coordinator restart.
///
/// An attempt belongs to the identity it was dispatched to (``WorkerIdentity``: the authenticated
/// key), never to a worker name, and never to whoever names it. Attempt ids (`RUN-STEP-N`) are easy
/// to guess, so naming one proves nothing: a connection with another identity that claims it is
/// refused, and the attempt stays with its owner (or runs out its lease and is retried elsewhere).
/// The service carries the decisions out; this type does no I/O.
public enum AttemptOwnership {
    /// What the coordinator knows of an attempt that a worker names.
    public struct Known: Hashable, Sendable {
        /// It is dispatched and still its step's current attempt.
        public var isCurrent: Bool
        /// Its success is recorded (its acknowledgement may not have reached the worker yet).
        public var isCommitted: Bool
        /// The identity it was dispatched to; nil when that is not known (then nobody may claim it).
        public var owner: WorkerIdentity?
        /// The connected worker (registration id) holding it now; nil while it is an orphan.
        public var holder: String?

        public init(isCurrent: Bool, isCommitted: Bool, owner: WorkerIdentity?, holder: String?) {
            self.isCurrent = isCurrent
            self.isCommitted = isCommitted
            self.owner = owner
            self.holder = holder
        }

        /// An attempt the coordinator does not hold as current: unknown, superseded or ended.
        public static func notCurrent(committed: Bool) -> Known {
            Known(isCurrent: false, isCommitted: committed, owner: nil, holder: nil)
        }
    }

    /// What to do with one attempt a worker names.
    public enum Decision: Hashable, Sendable {
        /// The naming worker holds it: its lease is confirmed.
        case confirm
        /// It belongs to the naming worker's identity but is bound to no connection, or to an
        /// earlier connection of the same identity: bind it to this one.
        case reattach
        /// Its success is recorded; the worker names it until the acknowledgement arrives. Leave it.
        case recorded
        /// Nobody wants it any more (superseded, canceled, given up): tell the worker to cancel it.
        case unwanted
        /// It was dispatched to another identity (`owner`; nil when unknown): refuse the claim, keep
        /// the attempt with its owner, and log both identities.
        case refused(owner: WorkerIdentity?)

        /// Whether the naming worker keeps the attempt.
        public var keeps: Bool { self == .confirm || self == .reattach }
    }

    /// The decision for `known` named by the worker registered as `workerID`, whose identity is `claimant`.
    public static func decide(_ known: Known, claimant: WorkerIdentity, workerID: String) -> Decision {
        guard known.isCurrent else { return known.isCommitted ? .recorded : .unwanted }
        // Ownership is checked even for the connection holding it: a registration id can be reused by
        // a later connection, an identity cannot.
        guard let owner = known.owner, owner == claimant else { return .refused(owner: known.owner) }
        return known.holder == workerID ? .confirm : .reattach
    }
}
