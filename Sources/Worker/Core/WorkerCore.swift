import Protocol

/// The worker's side of the protocol, without processes, files or sockets: registration, the
/// leases on its attempts, finish reports re-sent until acknowledged, the slot queue, and draining.
///
/// Pure: `WorkerService` feeds it what happens (a message from the coordinator, a clock tick, an
/// attempt's process ending, a drain request) and carries out the actions it returns (send a
/// message, start or stop an attempt, leave). The simulation drives this same core through
/// thousands of fault schedules. Time is passed in: monotonic milliseconds for leases and
/// timeouts, wall-clock milliseconds for the times a report carries.
///
/// The rules:
/// - At most `slots` attempts run at once; further dispatches wait in order, and one starts as
///   each running attempt ends.
/// - Every dispatch is a lease the coordinator renews with its heartbeats. An attempt whose lease
///   runs out is fenced: a waiting one is dropped, a running one is killed at once and its result
///   is discarded (its report says `fenced`, once), because the coordinator may have sent the step
///   elsewhere.
/// - A finish report is kept and sent again every heartbeat interval, and all of them after
///   registering again, until the coordinator acknowledges it or its lease runs out.
/// - Silence from the coordinator for `silenceMilliseconds` means registering again.
/// - Draining takes nothing new: waiting attempts and new dispatches are handed back, running ones
///   may finish until the drain deadline and are then stopped and handed back; once nothing runs
///   and every report is acknowledged (or `drainAcknowledgementMilliseconds` passed), the worker
///   leaves.
public struct WorkerCore: Sendable {
    /// How the worker runs; the coordinator may shorten the lease at registration.
    public struct Settings: Hashable, Sendable {
        /// Attempts run at once.
        public var slots: Int
        /// How often heartbeats (and unacknowledged reports) are sent.
        public var heartbeatMilliseconds: Int64
        /// Silence from the coordinator after which the worker registers again.
        public var silenceMilliseconds: Int64
        /// How long a lease lasts without renewal before the attempt is fenced.
        public var leaseMilliseconds: Int64
        /// How long running attempts may finish once the worker drains.
        public var drainMilliseconds: Int64
        /// How long a drained worker waits for its last reports' acknowledgements before it leaves.
        public var drainAcknowledgementMilliseconds: Int64

        public init(
            slots: Int, heartbeatMilliseconds: Int64 = 1000, silenceMilliseconds: Int64 = 10_000, leaseMilliseconds: Int64 = 8000,
            drainMilliseconds: Int64 = 60_000, drainAcknowledgementMilliseconds: Int64 = 5000
        ) {
            precondition(slots > 0, "WorkerCore: slots must be at least 1")
            self.slots = slots
            self.heartbeatMilliseconds = heartbeatMilliseconds
            self.silenceMilliseconds = silenceMilliseconds
            self.leaseMilliseconds = max(1, leaseMilliseconds)
            self.drainMilliseconds = drainMilliseconds
            self.drainAcknowledgementMilliseconds = drainAcknowledgementMilliseconds
        }
    }

    /// A moment, on both clocks.
    public struct Now: Hashable, Sendable {
        /// Monotonic milliseconds: leases, timeouts, intervals.
        public var monotonic: Int64
        /// Wall-clock milliseconds since 1970: the times reports carry.
        public var wall: Int64

        public init(monotonic: Int64, wall: Int64) {
            self.monotonic = monotonic
            self.wall = wall
        }
    }

    public enum Event: Sendable {
        /// The worker process started: register.
        case started(Now)
        /// A message from the coordinator (any: data-plane messages only count as word from it).
        case received(Payload, Now)
        /// The heartbeat interval passed.
        case tick(Now)
        /// An attempt the core started is over: its process ended (or it never started), and this
        /// is what the execution found. The core decides what is reported.
        case executionEnded(AttemptFinished, Now)
        /// Drain: SIGTERM or `conduit worker drain` (`announce`: tell the coordinator), or the
        /// coordinator asked. A second announced request ends the drain deadline now: running
        /// attempts are stopped (with the kill grace period) and handed back.
        case drainRequested(reason: String, announce: Bool, Now)
        /// The connection closed (shutdown or refusal): running attempts are stopped.
        case transportClosed
    }

    public enum Action: Hashable, Sendable {
        /// Send `hello` naming the attempts held; the shell adds the machine's capabilities.
        case sendHello(heldAttempts: [String])
        /// Send this message to the coordinator.
        case send(Payload)
        /// A slot is free for this attempt: prepare and run it.
        case start(Dispatch)
        /// Stop the attempt's processes: after the kill grace period, or `immediately` (fencing).
        case stop(attemptID: String, immediately: Bool)
        /// The coordinator accepted the registration.
        case registered(workerID: String)
        /// The coordinator refused the worker for good: close the connection and stop.
        case refused(reason: String)
        /// The coordinator forgot this worker or went silent: transfers in flight cannot be
        /// answered (uploads may be resumed after registering again when `keepingUploads`).
        case abandonTransfers(reason: String, keepingUploads: Bool)
        /// Registered again: resume the uploads that were interrupted.
        case resumeUploads
        /// Data-plane housekeeping of a tick while registered: retry stalled uploads.
        case retryStalledUploads
        /// The coordinator rejected a success: it may have lost blobs this worker thought it
        /// holds, so upload everything again.
        case forgetCoordinatorBlobs
        /// Drained: close the connection and stop.
        case leave
        /// Say this in the worker's log.
        case log(Log)
    }

    /// A line for the worker's log.
    public struct Log: Hashable, Sendable {
        public enum Level: Hashable, Sendable { case info, notice, warning, error }
        public var level: Level
        public var message: String
        public var attemptID: String?

        public init(_ level: Level, _ message: String, attemptID: String? = nil) {
            self.level = level
            self.message = message
            self.attemptID = attemptID
        }
    }

    /// A dispatched attempt the worker holds (waiting for a slot, or started).
    public struct Attempt: Hashable, Sendable {
        /// Waiting for a slot: the dispatch to start when one frees.
        public fileprivate(set) var waiting: Dispatch?
        /// The coordinator canceled it.
        public fileprivate(set) var canceled = false
        /// Its lease ran out: killed, outputs discarded.
        public fileprivate(set) var fenced = false
        /// Stopped because the worker drains: handed back to the coordinator.
        public fileprivate(set) var handedBack = false
    }

    /// A worker that drains.
    public struct DrainState: Hashable, Sendable {
        public var reason: String
        /// When running attempts are stopped and handed back (monotonic milliseconds).
        public var deadline: Int64
        /// When the worker first had nothing running (monotonic milliseconds).
        public var idleSince: Int64?
        /// Set once it has decided to leave.
        public var leaving = false
    }

    public let settings: Settings
    /// The registration id the coordinator gave; nil while not registered.
    public private(set) var workerID: String?
    /// Why the coordinator refused the worker for good.
    public private(set) var refusal: String?
    /// The leases on its attempts, renewed by the coordinator's heartbeats.
    public private(set) var leases: AttemptLeases
    /// Dispatched attempts held: waiting for a slot or started.
    public private(set) var attempts: [String: Attempt] = [:]
    /// Attempts waiting for a slot, oldest first.
    public private(set) var queue: [String] = []
    /// Finish reports not yet acknowledged, and when each was last sent (monotonic ms).
    public private(set) var pendingReports: [String: (report: AttemptFinished, sentAt: Int64)] = [:]
    /// Set while draining.
    public private(set) var draining: DrainState?
    /// Set once the connection closed.
    public private(set) var closed = false
    /// Attempts that ended here (the newest `rememberedEnds`): a dispatch of one of them that
    /// arrives late (a duplicate, or one re-sent) is not run a second time.
    var ended: Set<String> = []
    var endedOrder: [String] = []
    static let rememberedEnds = 4096
    var lastHeard: Int64 = 0
    var lastHello: Int64 = .min / 2
    /// When the last hello was sent: the base of leases granted before the coordinator has seen a
    /// heartbeat of this registration.
    var helloSentAt: Int64 = 0
    var heartbeatSequence: UInt64 = 0
    /// When recent heartbeats were sent: the coordinator echoes a number back, and leases count
    /// from that send time.
    var heartbeatSentAt: [UInt64: Int64] = [:]

    public init(settings: Settings) {
        self.settings = settings
        leases = AttemptLeases(timeoutMilliseconds: settings.leaseMilliseconds)
    }

    /// Attempts started and not yet ended (each holds a slot).
    public var activeCount: Int { attempts.count - queue.count }

    /// Every attempt this worker holds: waiting, running, or reported and not yet acknowledged.
    /// Named in heartbeats and in `hello`, so the coordinator can re-attach them.
    public var heldAttempts: [String] { Set(attempts.keys).union(pendingReports.keys).sorted() }

    /// Whether the attempt is dispatched here and not yet ended.
    public func holds(_ attemptID: String) -> Bool { attempts[attemptID] != nil }

    /// The finish report of the attempt still waiting for its acknowledgement.
    public func pendingReport(_ attemptID: String) -> AttemptFinished? { pendingReports[attemptID]?.report }

    /// Whether a started attempt may still launch its process: not canceled, fenced or handed back.
    public func mayLaunch(_ attemptID: String) -> Bool {
        guard !closed, let attempt = attempts[attemptID], attempt.waiting == nil else { return false }
        return !attempt.canceled && !attempt.fenced && !attempt.handedBack
    }

    /// Whether the coordinator canceled the attempt.
    public func wasCanceled(_ attemptID: String) -> Bool { attempts[attemptID]?.canceled == true }

    // MARK: Events

    public mutating func on(_ event: Event) -> [Action] {
        var actions: [Action] = []
        switch event {
        case .started(let now):
            lastHeard = now.monotonic
            hello(now: now, into: &actions)
        case .received(let payload, let now):
            lastHeard = now.monotonic
            receive(payload, now: now, into: &actions)
        case .tick(let now):
            tick(now: now, into: &actions)
        case .executionEnded(let report, let now):
            ended(report, now: now, into: &actions)
        case .drainRequested(let reason, let announce, let now):
            beginDrain(reason: reason, announce: announce, now: now, into: &actions)
        case .transportClosed:
            closed = true
            for id in attempts.keys.sorted() where attempts[id]?.waiting == nil {
                actions.append(.stop(attemptID: id, immediately: false))
            }
        }
        return actions
    }

    private mutating func receive(_ payload: Payload, now: Now, into actions: inout [Action]) {
        switch payload {
        case .welcome(let welcome):
            workerID = welcome.workerID
            if welcome.leaseMilliseconds > 0, Int64(welcome.leaseMilliseconds) != leases.timeoutMilliseconds {
                leases.setTimeout(Int64(welcome.leaseMilliseconds))
            }
            actions.append(.log(Log(.info, "registered with the coordinator as \(welcome.workerID)")))
            actions.append(.registered(workerID: welcome.workerID))
            // Results the previous coordinator connection may not have recorded, and outputs it
            // was receiving.
            resendReports(now: now, all: true, into: &actions)
            actions.append(.resumeUploads)
            heartbeat(now: now, into: &actions)
            if draining != nil { actions.append(.send(.drain(Drain(reason: "the worker is draining")))) }
        case .refuse(let refuse) where refuse.helloRequired == true:
            // The coordinator does not know this connection (it restarted): register again, at
            // most once per heartbeat interval.
            if workerID != nil || now.monotonic - lastHello > settings.heartbeatMilliseconds {
                actions.append(.log(Log(.info, "the coordinator does not know this worker; registering again")))
                workerID = nil
                actions.append(.abandonTransfers(reason: "the coordinator no longer knows this worker", keepingUploads: true))
                hello(now: now, into: &actions)
            }
        case .refuse(let refuse):
            guard refusal == nil else { return }
            refusal = refuse.reason
            closed = true
            actions.append(.log(Log(.error, "the coordinator refused this worker: \(refuse.reason)")))
            actions.append(.refused(reason: refuse.reason))
        case .heartbeat(let heartbeat):
            if let base = leaseBase(echoing: heartbeat.sequence) {
                leases.renew(heartbeat.runningAttempts, now: base)
            }
        case .drain(let drain):
            beginDrain(reason: "the coordinator asked: \(drain.reason)", announce: false, now: now, into: &actions)
        case .dispatch(let dispatch):
            dispatched(dispatch, now: now, into: &actions)
        case .cancel(let cancel):
            if let index = queue.firstIndex(of: cancel.attemptID) {
                queue.remove(at: index)
                attempts[cancel.attemptID] = nil
                remember(cancel.attemptID)
                deliver(AttemptFinished(
                    attemptID: cancel.attemptID, outcome: .canceled, startedAt: now.wall, endedAt: now.wall, message: "canceled before it started"
                ), now: now, into: &actions)
                return
            }
            guard var attempt = attempts[cancel.attemptID], !attempt.canceled else { return }
            attempt.canceled = true
            attempts[cancel.attemptID] = attempt
            actions.append(.log(Log(.info, "canceling: \(cancel.reason)", attemptID: cancel.attemptID)))
            actions.append(.stop(attemptID: cancel.attemptID, immediately: false))
        case .attemptAcknowledged(let ack):
            let reported = pendingReports.removeValue(forKey: ack.attemptID)?.report.outcome
            if attempts[ack.attemptID] == nil { leases.release(ack.attemptID) }
            if !ack.accepted && reported == .succeeded {
                actions.append(.log(Log(.warning, "the coordinator rejected the result: \(ack.reason ?? "")", attemptID: ack.attemptID)))
                actions.append(.forgetCoordinatorBlobs)
            }
            checkDrain(now: now, into: &actions)
        default:
            // The data plane (fetches, upload credit) is the shell's.
            break
        }
    }

    private mutating func dispatched(_ dispatch: Dispatch, now: Now, into actions: inout [Action]) {
        // A repeated dispatch (the network duplicated it, or the coordinator re-sent it) is one.
        guard !closed, attempts[dispatch.attemptID] == nil, pendingReports[dispatch.attemptID] == nil, !ended.contains(dispatch.attemptID) else {
            return
        }
        leases.grant(dispatch.attemptID, now: leaseBase(echoing: dispatch.leaseSequence) ?? helloSentAt)
        guard leases.isCurrent(dispatch.attemptID, now: now.monotonic) else {
            // It arrived after its lease ran out (the worker was stopped, the network held it): the
            // coordinator counts it lost and may have given it to another worker. Never started.
            remember(dispatch.attemptID)
            leases.release(dispatch.attemptID)
            actions.append(.log(Log(.warning, "did not start a dispatch that arrived after its lease ran out", attemptID: dispatch.attemptID)))
            return
        }
        if draining != nil {
            remember(dispatch.attemptID)
            handBack(dispatch.attemptID, reason: "the worker is draining", now: now, into: &actions)
            return
        }
        if activeCount < settings.slots {
            attempts[dispatch.attemptID] = Attempt()
            actions.append(.start(dispatch))
        } else {
            attempts[dispatch.attemptID] = Attempt(waiting: dispatch)
            queue.append(dispatch.attemptID)
        }
    }

    private mutating func tick(now: Now, into actions: inout [Action]) {
        fenceExpiredLeases(now: now, into: &actions)
        checkDrain(now: now, into: &actions)
        guard !closed else { return }
        if now.monotonic - lastHeard > settings.silenceMilliseconds {
            actions.append(.log(Log(.warning, "no word from the coordinator; registering again")))
            lastHeard = now.monotonic
            workerID = nil
            actions.append(.abandonTransfers(reason: "the coordinator went silent", keepingUploads: false))
            hello(now: now, into: &actions)
            return
        }
        resendReports(now: now, all: false, into: &actions)
        actions.append(.retryStalledUploads)
        heartbeat(now: now, into: &actions)
    }

    private mutating func ended(_ finished: AttemptFinished, now: Now, into actions: inout [Action]) {
        var report = finished
        let id = report.attemptID
        let attempt = attempts.removeValue(forKey: id)
        if let index = queue.firstIndex(of: id) { queue.remove(at: index) }
        remember(id)
        if attempt?.fenced == true {
            // The coordinator may have sent the step elsewhere: whatever this attempt produced is
            // discarded; the report says so once and is not kept for re-sending.
            leases.release(id)
            actions.append(.send(.attemptFinished(AttemptFinished(
                attemptID: id, outcome: .fenced, startedAt: report.startedAt, endedAt: now.wall,
                message: "the worker fenced the attempt: its lease was not renewed for \(Double(leases.timeoutMilliseconds) / 1000) s; outputs discarded"
            ))))
        } else if attempt?.canceled == true && report.outcome != .succeeded {
            if report.outcome != .canceled {
                report.outcome = .canceled
                report.message = "canceled"
            }
            deliver(report, now: now, into: &actions)
        } else if attempt?.handedBack == true && report.outcome != .succeeded {
            report.outcome = .handedBack
            report.message = "the worker drained and stopped the attempt before it finished"
            deliver(report, now: now, into: &actions)
        } else {
            deliver(report, now: now, into: &actions)
        }
        startWaiting(into: &actions)
        checkDrain(now: now, into: &actions)
    }

    /// Keeps the attempt's id among those that ended here.
    private mutating func remember(_ attemptID: String) {
        guard ended.insert(attemptID).inserted else { return }
        endedOrder.append(attemptID)
        if endedOrder.count > Self.rememberedEnds {
            ended.remove(endedOrder.removeFirst())
        }
    }

    /// Starts waiting attempts while slots are free.
    private mutating func startWaiting(into actions: inout [Action]) {
        while !closed, activeCount < settings.slots, !queue.isEmpty {
            let id = queue.removeFirst()
            guard let dispatch = attempts[id]?.waiting else { continue }
            attempts[id]?.waiting = nil
            actions.append(.start(dispatch))
        }
    }

    // MARK: Registration and heartbeats

    private mutating func hello(now: Now, into actions: inout [Action]) {
        lastHello = now.monotonic
        helloSentAt = now.monotonic
        actions.append(.sendHello(heldAttempts: heldAttempts))
    }

    private mutating func heartbeat(now: Now, into actions: inout [Action]) {
        heartbeatSequence += 1
        heartbeatSentAt[heartbeatSequence] = now.monotonic
        if heartbeatSequence > 64 { heartbeatSentAt[heartbeatSequence - 64] = nil }
        actions.append(.send(.heartbeat(Heartbeat(runningAttempts: heldAttempts, sequence: heartbeatSequence))))
    }

    /// When this worker sent the heartbeat the coordinator echoes (its leases count from then).
    private func leaseBase(echoing sequence: UInt64) -> Int64? {
        sequence == 0 ? nil : heartbeatSentAt[sequence]
    }

    // MARK: Reports

    /// Sends a finish report and keeps it until the coordinator acknowledges it.
    private mutating func deliver(_ report: AttemptFinished, now: Now, into actions: inout [Action]) {
        pendingReports[report.attemptID] = (report, now.monotonic)
        actions.append(.send(.attemptFinished(report)))
    }

    /// Sends unacknowledged reports again: those sent a heartbeat interval ago or more, or all of
    /// them (after registering again).
    private mutating func resendReports(now: Now, all: Bool, into actions: inout [Action]) {
        for id in pendingReports.keys.sorted() {
            guard let pending = pendingReports[id], all || now.monotonic - pending.sentAt >= settings.heartbeatMilliseconds else { continue }
            pendingReports[id] = (pending.report, now.monotonic)
            actions.append(.send(.attemptFinished(pending.report)))
        }
    }

    /// Reports an attempt handed back without running it.
    private mutating func handBack(_ attemptID: String, reason: String, now: Now, into actions: inout [Action]) {
        deliver(AttemptFinished(attemptID: attemptID, outcome: .handedBack, startedAt: now.wall, endedAt: now.wall, message: reason), now: now, into: &actions)
    }

    // MARK: Leases

    /// Self-fencing: an attempt whose lease the coordinator has not renewed in time is killed at
    /// once and its result discarded, because the coordinator may already have sent the step
    /// elsewhere.
    private mutating func fenceExpiredLeases(now: Now, into actions: inout [Action]) {
        for id in leases.expired(now: now.monotonic) {
            let reason = "lease not renewed for \(Double(leases.timeoutMilliseconds) / 1000) s"
            if let index = queue.firstIndex(of: id) {
                queue.remove(at: index)
                attempts[id] = nil
                remember(id)
                leases.release(id)
                actions.append(.log(Log(.warning, "fenced a waiting attempt: \(reason)", attemptID: id)))
            } else if var attempt = attempts[id] {
                guard !attempt.fenced else { continue }
                attempt.fenced = true
                attempts[id] = attempt
                actions.append(.log(Log(.warning, "fencing: killing the attempt's processes and discarding its outputs: \(reason)", attemptID: id)))
                actions.append(.stop(attemptID: id, immediately: true))
            } else {
                if pendingReports.removeValue(forKey: id) != nil {
                    actions.append(.log(Log(.warning, "discarded an unacknowledged result: \(reason)", attemptID: id)))
                }
                leases.release(id)
            }
        }
        startWaiting(into: &actions)
    }

    // MARK: Draining

    private mutating func beginDrain(reason: String, announce: Bool, now: Now, into actions: inout [Action]) {
        if var current = draining {
            // A second request (a second SIGTERM) stops what runs at once.
            if announce {
                current.deadline = min(current.deadline, now.monotonic)
                draining = current
                checkDrain(now: now, into: &actions)
            }
            return
        }
        draining = DrainState(reason: reason, deadline: now.monotonic + settings.drainMilliseconds)
        actions.append(.log(Log(.notice, "draining: \(reason); running attempts may finish for up to \(settings.drainMilliseconds / 1000) s")))
        if announce, workerID != nil, !closed { actions.append(.send(.drain(Drain(reason: reason)))) }
        let waiting = queue
        queue.removeAll()
        for id in waiting {
            attempts[id] = nil
            remember(id)
            handBack(id, reason: "the worker is draining (\(reason))", now: now, into: &actions)
        }
        checkDrain(now: now, into: &actions)
    }

    /// Leaves once nothing runs and every report is acknowledged (waiting at most
    /// `drainAcknowledgementMilliseconds` for them); past the deadline, stops the attempts still
    /// running and hands them back.
    private mutating func checkDrain(now: Now, into actions: inout [Action]) {
        guard var state = draining, !state.leaving else { return }
        if attempts.isEmpty {
            let idleSince = state.idleSince ?? now.monotonic
            state.idleSince = idleSince
            if pendingReports.isEmpty || now.monotonic - idleSince >= settings.drainAcknowledgementMilliseconds {
                state.leaving = true
                closed = true
                actions.append(.log(Log(.notice, "drained; leaving")))
                actions.append(.leave)
            }
            draining = state
        } else if now.monotonic >= state.deadline {
            for id in attempts.keys.sorted() where attempts[id]?.handedBack == false {
                attempts[id]?.handedBack = true
                actions.append(.log(Log(.warning, "drain deadline reached: stopping the attempt and handing it back", attemptID: id)))
                actions.append(.stop(attemptID: id, immediately: false))
            }
        }
    }
}
